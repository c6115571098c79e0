// Command renderforms writes, for every LynqForm of lynq-bridge's corpus of forms from Lynq's
// documentation, whether Lynq accepts it and the bodies Lynq renders for a fixed set of rows.
//
// It is lynq-bridge's dev tool, built inside a throw-away Lynq checkout (see README.md), because
// Go's internal-package rule only lets a package of Lynq's own module import Lynq's engine and
// controllers. Not run in CI; its outputs are committed as tests/data/lynq/docs-forms/*.expected.json.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	lynqv1 "github.com/k8s-lynq/lynq/api/v1"
	"github.com/k8s-lynq/lynq/internal/controller"
	"github.com/k8s-lynq/lynq/internal/datasource"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Row is one database row of rows.json: NULL columns are JSON null (Lynq reads them as "").
type Row struct {
	UID       string             `json:"uid"`
	HostOrURL *string            `json:"hostOrUrl"`
	Activate  string             `json:"activate"`
	Extra     map[string]*string `json:"extra"`
}

type Inputs struct {
	Rows []Row `json:"rows"`
}

type RowResult struct {
	UID       string                      `json:"uid"`
	NodeError string                      `json:"nodeError,omitempty"`
	Resources []controller.CorpusResource `json:"resources"`
	// ApplyProblems: what the API server would refuse in a rendered object's metadata
	// (resource id -> reason); Lynq renders such an object but cannot create it.
	ApplyProblems map[string]string `json:"applyProblems,omitempty"`
}

type Result struct {
	Form     string      `json:"form"`
	Accepted bool        `json:"accepted"`
	Rejected string      `json:"rejected,omitempty"`
	Lynq     string      `json:"lynq"`
	Rows     []RowResult `json:"rows,omitempty"`
}

func text(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func loadSchema(path string) (*structuralschema.Structural, validation.SchemaValidator, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(raw, crd); err != nil {
		return nil, nil, err
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, nil, err
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, nil, err
	}
	validator, _, err := validation.NewSchemaValidator(internal)
	return structural, validator, err
}

// admit is what `kubectl apply` (strict field validation) and Lynq's webhooks do with the
// document: "" when the API server stores it.
func admit(raw []byte, structural *structuralschema.Structural, validator validation.SchemaValidator) (*lynqv1.LynqForm, string) {
	jsonDoc, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, "not YAML: " + err.Error()
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(jsonDoc, &obj); err != nil || obj == nil {
		return nil, "not a YAML mapping"
	}
	meta, _ := obj["metadata"].(map[string]interface{})
	if name, _ := meta["name"].(string); name == "" {
		return nil, "API server: metadata.name: Required value: name or generateName is required"
	}
	unknown := pruning.PruneWithOptions(obj, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, "API server (strict field validation): unknown field(s) " + strings.Join(unknown, ", ")
	}
	if errs := validation.ValidateCustomResource(field.NewPath(""), obj, validator); len(errs) > 0 {
		return nil, "API server (CRD schema): " + errs.ToAggregate().Error()
	}
	form := &lynqv1.LynqForm{}
	if err := json.Unmarshal(jsonDoc, form); err != nil {
		return nil, "API server: " + err.Error()
	}
	if err := (&lynqv1.LynqFormDefaulter{}).Default(context.Background(), form); err != nil {
		return nil, "mutating webhook: " + err.Error()
	}
	if _, err := (&lynqv1.LynqFormValidator{}).ValidateCreate(context.Background(), form); err != nil {
		return nil, "validating webhook: " + err.Error()
	}
	return form, ""
}

func applyProblem(obj map[string]interface{}) string {
	meta, _ := obj["metadata"].(map[string]interface{})
	var problems []string
	name, _ := meta["name"].(string)
	kind, _ := obj["kind"].(string)
	if name == "" {
		problems = append(problems, "metadata.name is empty")
	} else if msgs := k8svalidation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		problems = append(problems, fmt.Sprintf("metadata.name %q: %s", name, strings.Join(msgs, "; ")))
	} else if kind == "Namespace" {
		if msgs := k8svalidation.IsDNS1123Label(name); len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("metadata.name %q: %s", name, strings.Join(msgs, "; ")))
		}
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		if msgs := k8svalidation.IsDNS1123Label(ns); len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("metadata.namespace %q: %s", ns, strings.Join(msgs, "; ")))
		}
	}
	labels, _ := meta["labels"].(map[string]interface{})
	for _, k := range sortedKeys(labels) {
		if msgs := k8svalidation.IsQualifiedName(k); len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("label key %q: %s", k, strings.Join(msgs, "; ")))
		}
		v, _ := labels[k].(string)
		if msgs := k8svalidation.IsValidLabelValue(v); len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("label %q value %q: %s", k, v, strings.Join(msgs, "; ")))
		}
	}
	return strings.Join(problems, "; ")
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func main() {
	formsDir := flag.String("forms", "", "directory of corpus forms (*.yaml)")
	rowsFile := flag.String("rows", "", "rows.json")
	crdFile := flag.String("crd", "", "Lynq's LynqForm CRD")
	lynqRev := flag.String("lynq", "7584aa26df6d", "Lynq commit the checkout was made from")
	flag.Parse()

	structural, validator, err := loadSchema(*crdFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "CRD:", err)
		os.Exit(1)
	}
	rawRows, err := os.ReadFile(*rowsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var inputs Inputs
	if err := json.Unmarshal(rawRows, &inputs); err != nil {
		fmt.Fprintln(os.Stderr, "rows:", err)
		os.Exit(1)
	}
	paths, _ := filepath.Glob(filepath.Join(*formsDir, "*.yaml"))
	sort.Strings(paths)
	accepted := 0
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		result := Result{Form: filepath.Base(path), Lynq: *lynqRev}
		form, rejected := admit(raw, structural, validator)
		if form == nil {
			result.Rejected = rejected
		} else {
			result.Accepted = true
			accepted++
			namespace := form.Namespace
			if namespace == "" {
				namespace = "default"
			}
			for _, r := range inputs.Rows {
				extra := map[string]string{}
				for k, v := range r.Extra {
					extra[k] = text(v)
				}
				row := datasource.NodeRow{UID: r.UID, HostOrURL: text(r.HostOrURL), Activate: r.Activate, Extra: extra}
				nodeError, resources := controller.CorpusRenderNode(form, namespace, row)
				if resources == nil {
					resources = []controller.CorpusResource{}
				}
				rr := RowResult{UID: r.UID, NodeError: nodeError, Resources: resources}
				for _, res := range resources {
					if res.Object != nil {
						if p := applyProblem(res.Object); p != "" {
							if rr.ApplyProblems == nil {
								rr.ApplyProblems = map[string]string{}
							}
							rr.ApplyProblems[res.ID] = p
						}
					}
				}
				result.Rows = append(result.Rows, rr)
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(result); err != nil {
			fmt.Fprintln(os.Stderr, path, err)
			os.Exit(1)
		}
		out := strings.TrimSuffix(path, ".yaml") + ".expected.json"
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		status := "accepted"
		if !result.Accepted {
			status = "REJECTED: " + rejected
		}
		fmt.Printf("%s: %s\n", filepath.Base(path), status)
	}
	fmt.Printf("%d forms, %d accepted by Lynq\n", len(paths), accepted)
}
