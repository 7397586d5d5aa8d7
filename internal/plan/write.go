package plan

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints the plan for people: per address a table of its announcers, the failover
// order and the notes that explain it, then every node's problems.
func WriteText(w io.Writer, p Plan) error {
	out := &bytes.Buffer{}
	for i, a := range p.Addresses {
		if i > 0 {
			fmt.Fprintf(out, "\n")
		}
		writeAddress(out, a)
	}
	if len(p.WithoutLoadBalancer) > 0 {
		fmt.Fprintf(out, "\nWithout a load balancer (announce nothing): %s\n", strings.Join(p.WithoutLoadBalancer, ", "))
	}
	if len(p.Problems) > 0 {
		fmt.Fprintf(out, "\nProblems:\n")
		for _, np := range p.Problems {
			fmt.Fprintf(out, "  %s (%s): %s %s: %s: %s\n", np.Node, np.Source, np.Severity, np.Reason, fieldOrRoot(np.Field), np.Message)
		}
	}
	if len(p.Addresses) == 0 && len(p.WithoutLoadBalancer) == 0 {
		fmt.Fprintf(out, "No StellarNode in the manifests.\n")
	}
	_, err := w.Write(out.Bytes())
	return err
}

func writeAddress(out *bytes.Buffer, a Address) {
	switch {
	case a.Address != "":
		fmt.Fprintf(out, "Address %s (pool %s), announced by %d:\n", a.Address, a.Pool, len(a.Announcers))
	default:
		fmt.Fprintf(out, "Pool %s (no loadBalancerIP: MetalLB picks the address), announced by %d:\n", a.Pool, len(a.Announcers))
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  REGION\tNODE\tSOURCE\tMODE\tPREFIX\tLOCAL-ASN\tROUTERS\tLOCAL-PREF\tCOMMUNITIES\tPRIORITY")
	for _, an := range a.Announcers {
		node := an.Node
		if an.Refused {
			node += " (refused)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(an.Region), node, an.Source, an.Mode, dash(an.Prefix),
			asn(an), routers(an), localPref(an), dash(strings.Join(an.Communities, ",")), priority(an))
	}
	_ = tw.Flush() // writes to a bytes.Buffer do not fail
	fmt.Fprintf(out, "  Announcing nodes:\n")
	for _, an := range a.Announcers {
		fmt.Fprintf(out, "    %s: %s\n", label(an), an.AnnouncingNodes)
	}
	switch {
	case len(a.Failover) == 0:
	case len(a.Failover) == 1:
		fmt.Fprintf(out, "  Failover order: one announcer, no other region to fail over to:\n")
	case a.RankedBy == RankedByNothing:
		fmt.Fprintf(out, "  Failover order: nothing in the manifests ranks them:\n")
	default:
		fmt.Fprintf(out, "  Failover order (by %s: the first takes the traffic, the next when all before it withdraw):\n", a.RankedBy)
	}
	if len(a.Failover) > 0 {
		tw = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
		for _, s := range a.Failover {
			fmt.Fprintf(tw, "    %d.\t%s\t%s\t%s\n", s.Rank, dash(s.Region), s.Node, s.By)
		}
		_ = tw.Flush() // writes to a bytes.Buffer do not fail
	}
	if len(a.Notes) > 0 {
		fmt.Fprintf(out, "  Why:\n")
		for _, n := range a.Notes {
			fmt.Fprintf(out, "    - %s\n", n)
		}
	}
}

func routers(a Announcer) string {
	if a.Mode != "BGP" {
		return "-"
	}
	if len(a.Routers) == 0 {
		return "every BGPPeer of its cluster"
	}
	parts := make([]string, len(a.Routers))
	for i, r := range a.Routers {
		parts[i] = fmt.Sprintf("%s AS%d %s", r.Address, r.ASN, r.Session)
	}
	return strings.Join(parts, ", ")
}

func asn(a Announcer) string {
	if a.LocalASN == 0 {
		return "-"
	}
	return fmt.Sprint(a.LocalASN)
}

func localPref(a Announcer) string {
	if a.LocalPref == nil {
		return "-"
	}
	return fmt.Sprint(*a.LocalPref)
}

func priority(a Announcer) string {
	if a.Priority == nil {
		return "-"
	}
	return fmt.Sprint(*a.Priority)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fieldOrRoot prints an error about the whole object the way the apiserver does.
func fieldOrRoot(field string) string {
	if field == "" {
		return "<nil>"
	}
	return field
}
