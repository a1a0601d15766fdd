package decode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

// DefaultNamespace is given to objects whose metadata.namespace is empty, as kubectl does.
const DefaultNamespace = "default"

// Decode reads every document in data (multi-document YAML separated by "---", or one or
// more concatenated JSON objects) and returns the objects it understood plus a diagnostic
// for every document it rejected or ignored. file is used only to label diagnostics and
// object sources. Document indexes are 0-based and count non-empty documents only (a
// document holding only comments or nothing is skipped without taking an index).
// Decode never returns nil.
func Decode(data []byte, file string) *resources.Bundle {
	b := &resources.Bundle{}
	idx := 0
	emit := func(doc []byte, err error) {
		d := &docDecoder{bundle: b, file: file, index: idx}
		if err != nil {
			d.errorf("", "", "", "", "%v", err)
		} else {
			d.decodeDocument(doc)
		}
		idx++
	}
	if utilyaml.IsJSONBuffer(data) {
		splitJSON(data, emit)
	} else {
		splitYAML(data, emit)
	}
	return b
}

// splitJSON calls emit with each JSON value in a stream of concatenated JSON documents.
// A syntax error ends the stream: after it the decoder cannot find the next document.
func splitJSON(data []byte, emit func([]byte, error)) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				err = fmt.Errorf("line %d: %w", bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))+1, err)
			}
			emit(nil, fmt.Errorf("invalid JSON: %w", err))
			return
		}
		if isNull(raw) {
			continue
		}
		emit(raw, nil)
	}
}

// splitYAML calls emit with the JSON form of each non-empty YAML document. A document that
// is not valid YAML gets an error of its own; the next document is still read.
func splitYAML(data []byte, emit func([]byte, error)) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	cursor := 0 // byte offset in data just past the previous document
	line := 1   // line number of data[cursor]
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			emit(nil, fmt.Errorf("invalid YAML: %w", err))
			return
		}
		// A document is a run of whole lines of data; find it to turn the YAML parser's
		// document-relative line numbers into file line numbers.
		// Lines are counted incrementally from the previous document, never from the start
		// of data: counting from the start made decoding quadratic in the file size.
		firstLine := 1
		if i := bytes.Index(data[cursor:], doc); i >= 0 {
			firstLine = line + bytes.Count(data[cursor:cursor+i], []byte("\n"))
			line = firstLine + bytes.Count(doc, []byte("\n"))
			cursor += i + len(doc)
		}
		// Strict: duplicate keys (two "tls:" in one server) are errors, not last-one-wins.
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
			msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "unmarshal errors:\n", "")), " ")
			msg = yamlLineRE.ReplaceAllStringFunc(msg, func(m string) string {
				n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
				return "line " + strconv.Itoa(n+firstLine-1)
			})
			emit(nil, fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(msg, "yaml: ")))
			continue
		}
		if isNull(js) {
			continue
		}
		emit(js, nil)
	}
}

var yamlLineRE = regexp.MustCompile(`line \d+`)

func isNull(js []byte) bool {
	s := bytes.TrimSpace(js)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

// stripComments drops comment-only lines, to tell an empty document from a broken one.
func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
		}
	}
	return out
}

// typeMeta is read leniently first, to choose the strict decoder for the document.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// docDecoder decodes one document into bundle, labelling diagnostics with file and index.
type docDecoder struct {
	bundle *resources.Bundle
	file   string
	index  int
}

func (d *docDecoder) source() resources.Source {
	return resources.Source{File: d.file, Index: d.index}
}

func (d *docDecoder) add(sev diag.Severity, tm typeMeta, field, msg string) {
	ns := tm.Metadata.Namespace
	if ns == "" && tm.Metadata.Name != "" {
		ns = DefaultNamespace
	}
	d.bundle.Diagnostics = append(d.bundle.Diagnostics, diag.Diagnostic{
		Severity: sev, File: d.file, Index: d.index,
		Kind: tm.Kind, Namespace: ns, Name: tm.Metadata.Name,
		Field: field, Message: msg,
	})
}

func (d *docDecoder) errorf(kind, ns, name, field, format string, args ...any) {
	tm := typeMeta{Kind: kind}
	tm.Metadata.Namespace, tm.Metadata.Name = ns, name
	d.add(diag.Error, tm, field, fmt.Sprintf(format, args...))
}

// decodeDocument dispatches one JSON document on apiVersion and kind.
func (d *docDecoder) decodeDocument(js []byte) {
	var tm typeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		// Not an object at all (a bare list or scalar), or metadata of the wrong shape.
		var probe map[string]json.RawMessage
		if json.Unmarshal(js, &probe) != nil {
			d.add(diag.Error, typeMeta{}, "", "document is not an object")
			return
		}
		tm = typeMeta{}
		_ = json.Unmarshal(probe["apiVersion"], &tm.APIVersion)
		_ = json.Unmarshal(probe["kind"], &tm.Kind)
	}
	group, version := splitAPIVersion(tm.APIVersion)
	switch {
	case tm.APIVersion == "" || tm.Kind == "":
		d.add(diag.Warning, tm, "", "document has no apiVersion or kind; ignored")
	case tm.APIVersion == "v1" && tm.Kind == "List":
		d.decodeList(js, tm)
	case group == istioGroup && istioVersions[version] && istioKinds[tm.Kind]:
		d.decodeIstio(js, tm)
	case group == securityGroup && securityKind(version, tm.Kind):
		d.decodeIstio(js, tm)
	case group == istioGroup:
		d.add(diag.Warning, tm, "", fmt.Sprintf("kind %s %s is not supported by portcullis; ignored", tm.APIVersion, tm.Kind))
	case group == telemetryGroup && (version == "v1" || version == "v1alpha1") && tm.Kind == "Telemetry":
		d.decodeIstio(js, tm)
	case tm.APIVersion == "v1" && tm.Kind == "Secret":
		d.decodeSecret(js, tm)
	case group == gatewayAPIGroup:
		d.decodeGatewayAPI(js, tm, version)
	case tm.APIVersion == "v1" && tm.Kind == "ConfigMap":
		d.decodeConfigMap(js, tm)
	case tm.APIVersion == "v1" && tm.Kind == "Namespace":
		gwDecode(d, js, tm, true, func(s resources.Source, o *corev1.Namespace) {
			d.bundle.GatewayAPI.Namespaces = append(d.bundle.GatewayAPI.Namespaces, resources.Namespace{Source: s, Namespace: o})
		})
	case tm.APIVersion == "v1" && tm.Kind == "Service":
		d.decodeService(js, tm)
	case tm.APIVersion == "discovery.k8s.io/v1" && tm.Kind == "EndpointSlice":
		d.decodeEndpointSlice(js, tm)
	default:
		d.add(diag.Warning, tm, "", fmt.Sprintf("kind %s %s is not used by portcullis; ignored", tm.APIVersion, tm.Kind))
	}
}

// decodeList decodes each item of a v1 List; all items share the List's document index.
func (d *docDecoder) decodeList(js []byte, tm typeMeta) {
	var list struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   json.RawMessage   `json:"metadata"`
		Items      []json.RawMessage `json:"items"`
	}
	if !d.strict(js, &list, tm) {
		return
	}
	for _, item := range list.Items {
		if !isNull(item) {
			d.decodeDocument(item)
		}
	}
}

func splitAPIVersion(av string) (group, version string) {
	if i := strings.LastIndex(av, "/"); i >= 0 {
		return av[:i], av[i+1:]
	}
	return "", av
}
