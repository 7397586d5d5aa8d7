package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

func newStatusCommand(o *options) *cobra.Command {
	var allNamespaces bool
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show StellarNodes' sync, ledger, external IP, BGP peers and conditions",
		Long: `Show, from the cluster, one StellarNode or every StellarNode of the namespace (-A: of every
namespace): whether it is ready and synced and at which ledger, its external IP, how its address is
announced (mode, pool, advertised prefix, localPref, communities), each BGP peer with its session
type (iBGP or eBGP), MetalLB's session state and the nodes announcing to it, and its conditions
with their reasons and messages. It only reads StellarNodes: get and list on
stellarnodes.stellar.org are all the RBAC it needs.`,
		Example: `  kubectl stellar status
  kubectl stellar status horizon-us-east -n stellar-nodes
  kubectl stellar status -A -o yaml
  kubectl stellar status --context eu-west horizon-eu-west`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return o.completeNodeNames(cmd.Context()), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if allNamespaces && len(args) > 0 {
				return errors.New("a NAME cannot be combined with -A/--all-namespaces")
			}
			nodes, err := o.readNodes(cmd.Context(), args, allNamespaces)
			if err != nil {
				return err
			}
			views := make([]NodeStatus, len(nodes))
			for i := range nodes {
				views[i] = nodeStatus(&nodes[i])
			}
			switch {
			case output.value != outputTable && len(args) == 1:
				return printData(o.streams.Out, output.value, views[0])
			case output.value != outputTable:
				if views == nil {
					views = []NodeStatus{}
				}
				return printData(o.streams.Out, output.value, map[string]interface{}{"items": views})
			case len(args) == 1:
				return writeNodeDetailsTo(o.streams.Out, views[0])
			case len(views) == 0:
				where := "in namespace " + o.namespaceOrDefault()
				if allNamespaces {
					where = "in any namespace"
				}
				_, err := fmt.Fprintf(o.streams.ErrOut, "No StellarNodes found %s.\n", where)
				return err
			}
			return writeStatusTable(o.streams.Out, views, allNamespaces)
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list StellarNodes of every namespace")
	output = addOutputFlag(cmd, outputTable, outputTable, outputYAML, outputJSON)
	return cmd
}

// client is a client of StellarNodes only: it needs no discovery, so get and list on
// stellarnodes are the only permissions it uses.
func (o *options) client() (client.Client, error) {
	cfg, err := o.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to read from: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := stellarv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{stellarv1.GroupVersion})
	mapper.Add(stellarv1.GroupVersion.WithKind("StellarNode"), meta.RESTScopeNamespace)
	mapper.Add(stellarv1.GroupVersion.WithKind("StellarNodeList"), meta.RESTScopeNamespace)
	return client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper})
}

// namespaceOrDefault is -n, else the kubeconfig context's namespace, else default.
func (o *options) namespaceOrDefault() string {
	ns, _, err := o.kube.ToRawKubeConfigLoader().Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// readNodes gets the named node, or lists the namespace's (every namespace's) nodes in
// namespace/name order, as kubectl get lists them.
func (o *options) readNodes(ctx context.Context, args []string, allNamespaces bool) ([]stellarv1.StellarNode, error) {
	c, err := o.client()
	if err != nil {
		return nil, err
	}
	ns, _, err := o.kube.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	if len(args) == 1 {
		node := &stellarv1.StellarNode{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, node); err != nil {
			return nil, explain(err, fmt.Sprintf("StellarNode %q in namespace %q", args[0], ns))
		}
		return []stellarv1.StellarNode{*node}, nil
	}
	list := &stellarv1.StellarNodeList{}
	var opts []client.ListOption
	where := "the StellarNodes of namespace " + ns
	if allNamespaces {
		where = "the StellarNodes of all namespaces"
	} else {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, explain(err, where)
	}
	sort.Slice(list.Items, func(i, j int) bool { return render.NodeKey(&list.Items[i]) < render.NodeKey(&list.Items[j]) })
	return list.Items, nil
}

// explain turns the apiserver's answers a user meets into sentences that say what to do.
func explain(err error, what string) error {
	var status apierrors.APIStatus
	switch {
	case apierrors.IsNotFound(err) && errors.As(err, &status) && status.Status().Details != nil && status.Status().Details.Name != "":
		return fmt.Errorf("%s not found", what)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("reading %s: the cluster does not serve stellarnodes.stellar.org: is the stellar-operator's CRD installed? (%w)", what, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("reading %s: %w (status needs get and list on stellarnodes.stellar.org)", what, err)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// completeNodeNames lists the namespace's node names for shell completion; errors complete nothing.
func (o *options) completeNodeNames(ctx context.Context) []cobra.Completion {
	nodes, err := o.readNodes(ctx, nil, false)
	if err != nil {
		return nil
	}
	names := make([]cobra.Completion, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names
}
