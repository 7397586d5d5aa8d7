package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/config"
	"github.com/stellar-operator/stellar-operator/internal/admission"
	"github.com/stellar-operator/stellar-operator/internal/buildinfo"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// ReasonUnknownField names a field the CRD's schema does not have: the apiserver's strict field
// validation (kubectl apply's default) refuses the manifest.
const ReasonUnknownField = "UnknownField"

// PlaceholderImageRepository is the health sidecar's image in offline renders when neither
// --operator-image nor the build names one: the reserved .invalid domain can never be pulled, so
// a rendered manifest applied by mistake fails visibly instead of running an unknown image.
const PlaceholderImageRepository = "registry.invalid/stellar-operator"

// defaultOperatorImage is the image this binary was built into, else the placeholder at this
// build's version.
func defaultOperatorImage() string {
	info := buildinfo.Get()
	if info.Image != "" {
		return info.Image
	}
	return PlaceholderImageRepository + ":" + info.Version
}

// manifestFlags are the flags of the offline commands.
type manifestFlags struct {
	files            []string
	operatorImage    string
	metallbMode      string
	metallbNamespace string
}

func (f *manifestFlags) add(cmd *cobra.Command, withImage bool) {
	cmd.Flags().StringSliceVarP(&f.files, "filename", "f", nil, "manifest file, directory of .yaml/.yml/.json files, or - for stdin (repeatable)")
	cmd.Flags().StringVar(&f.metallbMode, "metallb-bgp-mode", string(render.BGPModeFRRK8s), "MetalLB's BGP implementation in the target cluster: native, frr or frr-k8s")
	cmd.Flags().StringVar(&f.metallbNamespace, "metallb-namespace", "metallb-system", "namespace MetalLB watches in the target cluster")
	if withImage {
		cmd.Flags().StringVar(&f.operatorImage, "operator-image", defaultOperatorImage(),
			"image of the health sidecar in rendered pods: the image your operator runs (the default is the image this binary was built into, else a placeholder that cannot be pulled)")
	}
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.RegisterFlagCompletionFunc("metallb-bgp-mode", cobra.FixedCompletions(
		[]string{string(render.BGPModeNative), string(render.BGPModeFRR), string(render.BGPModeFRRK8s)}, cobra.ShellCompDirectiveNoFileComp))
}

func (f *manifestFlags) mode() (render.BGPMode, error) {
	switch m := render.BGPMode(f.metallbMode); m {
	case render.BGPModeNative, render.BGPModeFRR, render.BGPModeFRRK8s:
		return m, nil
	}
	return "", fmt.Errorf("invalid argument %q for --metallb-bgp-mode: must be native, frr or frr-k8s", f.metallbMode)
}

// loadChecked checks the offline commands' flags, then reads and admits the manifests: render,
// lint and plan all start so.
func (o *options) loadChecked(ctx context.Context, flags *manifestFlags, output *outputFlag) (render.BGPMode, []manifest, error) {
	mode, err := flags.mode()
	if err != nil {
		return "", nil, err
	}
	if err := output.check(); err != nil {
		return "", nil, err
	}
	manifests, err := o.loadManifests(ctx, flags.files)
	if err != nil {
		return "", nil, err
	}
	return mode, manifests, nil
}

// manifest is one document of the operator's kinds.
type manifest struct {
	// source is the file, with "#<document>" when the file holds several of the operator's objects.
	source string
	kind   string
	// key is namespace/name for a StellarNode, the name for a cluster-scoped kind.
	key string
	// node is the StellarNode as the apiserver would store it (defaults set); nil for another
	// kind, or when a refused manifest does not even decode.
	node *stellarv1.StellarNode
	// refusals are why the apiserver would refuse the manifest; empty when it admits it.
	refusals []validate.Problem
}

// input is the raw text of one -f source.
type input struct {
	name string
	data []byte
}

// loadManifests reads every source and admits each object of the operator's kinds offline.
func (o *options) loadManifests(ctx context.Context, files []string) ([]manifest, error) {
	inputs, err := o.readInputs(files)
	if err != nil {
		return nil, err
	}
	crds, err := config.CRDs()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded CRDs: %w", err)
	}
	admitter, err := admission.New(crds)
	if err != nil {
		return nil, err
	}
	namespace := o.manifestNamespace()
	var out []manifest
	for _, in := range inputs {
		found, err := admitInput(ctx, admitter, in, namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// manifestNamespace is where a manifest without metadata.namespace lands, as with kubectl apply:
// -n, else the kubeconfig context's namespace, else default. A missing or broken kubeconfig does
// not stop an offline command.
func (o *options) manifestNamespace() string {
	if o.kube.Namespace != nil && *o.kube.Namespace != "" {
		return *o.kube.Namespace
	}
	if ns, _, err := o.kube.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

func (o *options) readInputs(files []string) ([]input, error) {
	if len(files) == 0 {
		return nil, errors.New("-f FILE is required (a file, a directory, or - for stdin)")
	}
	var inputs []input
	for _, file := range files {
		if file == "-" {
			data, err := io.ReadAll(o.streams.In)
			if err != nil {
				return nil, fmt.Errorf("reading stdin: %w", err)
			}
			inputs = append(inputs, input{name: "stdin", data: data})
			continue
		}
		info, err := os.Stat(file)
		if err != nil {
			return nil, err
		}
		paths := []string{file}
		if info.IsDir() {
			if paths, err = manifestFiles(file); err != nil {
				return nil, err
			}
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			inputs = append(inputs, input{name: p, data: data})
		}
	}
	return inputs, nil
}

// manifestFiles are the manifests of a directory (not its subdirectories), in name order.
func manifestFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml, .yml or .json file", dir)
	}
	sort.Strings(out)
	return out, nil
}

// admitInput admits the operator's objects of one source; other kinds (Secrets, say) are skipped.
func admitInput(ctx context.Context, admitter *admission.Admitter, in input, namespace string) ([]manifest, error) {
	docs, err := admission.DecodeManifest(in.data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.name, err)
	}
	type ours struct {
		doc admission.Document
		gvk schema.GroupVersionKind
	}
	var found []ours
	for _, doc := range docs {
		if doc.Object == nil {
			continue
		}
		apiVersion, _ := doc.Object["apiVersion"].(string)
		kind, _ := doc.Object["kind"].(string)
		if apiVersion == "" || kind == "" {
			return nil, fmt.Errorf("%s document %d: apiVersion and kind are required", in.name, doc.Index)
		}
		gvk := schema.FromAPIVersionAndKind(apiVersion, kind)
		if !admitter.Handles(gvk.GroupKind()) {
			if gvk.Group == stellarv1.GroupVersion.Group {
				return nil, fmt.Errorf("%s document %d: %s has no kind %q", in.name, doc.Index, gvk.Group, kind)
			}
			continue
		}
		found = append(found, ours{doc, gvk})
	}
	var out []manifest
	for _, f := range found {
		source := in.name
		if len(found) > 1 {
			source = fmt.Sprintf("%s#%d", in.name, f.doc.Index)
		}
		m, err := admitDocument(ctx, admitter, f.doc.Object, f.gvk, namespace)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		m.source = source
		out = append(out, m)
	}
	return out, nil
}

func admitDocument(ctx context.Context, admitter *admission.Admitter, obj map[string]interface{}, gvk schema.GroupVersionKind, namespace string) (manifest, error) {
	m := manifest{kind: gvk.Kind}
	meta, _ := obj["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	m.key = name
	if gvk.Kind == "StellarNode" {
		if meta == nil {
			meta = map[string]interface{}{}
			obj["metadata"] = meta
		}
		if ns, _ := meta["namespace"].(string); ns == "" {
			meta["namespace"] = namespace
		}
		m.key = meta["namespace"].(string) + "/" + name
	}
	result, err := admitter.Admit(ctx, obj)
	if err != nil {
		return m, err
	}
	for _, f := range result.UnknownFields {
		m.refusals = append(m.refusals, validate.Errorf(f, ReasonUnknownField, fmt.Sprintf("unknown field %q", f)))
	}
	for _, e := range result.Errors {
		m.refusals = append(m.refusals, validate.Errorf(e.Field, string(e.Type), e.ErrorBody()))
	}
	if gvk.Kind != "StellarNode" {
		return m, nil
	}
	node := &stellarv1.StellarNode{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(result.Object.Object, node, true); err != nil {
		if len(m.refusals) > 0 {
			return m, nil // the refusals say what is wrong
		}
		// The CRD admitted what the operator's Go types cannot read: the two disagree.
		return m, fmt.Errorf("the operator cannot read the admitted StellarNode: %w", err)
	}
	m.node = node
	return m, nil
}

// problemLine is how lint prints a problem, one per line.
func problemLine(key string, p validate.Problem) string {
	return fmt.Sprintf("%s: %s %s: %s: %s", key, p.Severity, p.Reason, fieldOrRoot(p.Field), p.Message)
}

// fieldOrRoot prints an error about the whole object the way the apiserver prints it.
func fieldOrRoot(field string) string {
	if field == "" {
		return "<nil>"
	}
	return field
}

// hasError reports whether any problem is an error, of whatever scope: lint fails on it.
func hasError(problems []validate.Problem) bool {
	for _, p := range problems {
		if p.Severity == validate.SeverityError {
			return true
		}
	}
	return false
}
