package admission

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Document is one YAML or JSON document of a manifest, decoded as the apiserver decodes a request
// body: integers as int64, duplicate keys refused (strict field validation refuses them too).
type Document struct {
	// Index counts the documents of the manifest from 1, empty ones included.
	Index int
	// Object is nil for an empty document (comments only).
	Object map[string]interface{}
}

// DecodeManifest splits a manifest into its documents. A document that cannot be decoded fails the
// whole manifest, naming the document: nothing of a file that is half understood is used.
func DecodeManifest(data []byte) ([]Document, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []Document
	for i := 1; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		obj, err := decodeDocument(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		docs = append(docs, Document{Index: i, Object: obj})
	}
}

func decodeDocument(raw []byte) (map[string]interface{}, error) {
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, nil
	}
	var obj map[string]interface{}
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	return obj, nil
}
