// The functions Helm 3 adds to sprig's (pkg/engine/funcs.go), and the .Files object
// (pkg/chart/loader + pkg/engine/files.go), reimplemented for this test-only renderer.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"path"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

// toYAML marshals like sigs.k8s.io/yaml (JSON first, so keys sort and structs use their JSON
// names) and trims the final newline, as Helm's toYaml does. Errors render as "".
func toYAML(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var generic interface{}
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return ""
	}
	out, err := yaml.Marshal(generic)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// fromYAML parses a YAML map; on error Helm returns a map holding the message under "Error".
func fromYAML(s string) map[string]interface{} {
	m, err := parseYAMLMap([]byte(s))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

// fromYAMLArray parses a YAML list; on error a one-element list with the message.
func fromYAMLArray(s string) []interface{} {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return []interface{}{err.Error()}
	}
	conv, err := yamlToJSONValue(raw)
	if err != nil {
		return []interface{}{err.Error()}
	}
	list, _ := conv.([]interface{})
	return list
}

// toJSON marshals v to JSON; errors render as "".
func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

// fromJSON parses a JSON map; on error a map holding the message under "Error".
func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// required fails rendering with msg when v is nil or an empty string, as Helm's does.
func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, errors.New(msg)
	}
	return v, nil
}

// baseFuncMap is sprig's text functions with Helm's additions; include, tpl and lookup are
// bound per render in engine.go. Helm removes env and expandenv so charts stay hermetic.
func baseFuncMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["required"] = required
	// Stubs replaced in engine.go; declared here so parsing succeeds.
	f["include"] = func(string, interface{}) (string, error) { return "", nil }
	f["tpl"] = func(string, interface{}) (string, error) { return "", nil }
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

// Files is .Files: the chart's non-template files keyed by slash path relative to the chart.
type Files map[string][]byte

// Get returns a file's contents as a string, "" when absent.
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's contents, nil when absent.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob returns the files whose path matches pattern (path.Match syntax; Helm uses gobwas/glob,
// which also accepts "**": this renderer does not).
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

// sortedNames returns the file names in a stable order.
func (f Files) sortedNames() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AsConfig renders the files as a ConfigMap data block keyed by base name.
func (f Files) AsConfig() string {
	if len(f) == 0 {
		return ""
	}
	m := map[string]string{}
	for _, n := range f.sortedNames() {
		m[path.Base(n)] = string(f[n])
	}
	return toYAML(m)
}

// AsSecrets renders the files as a Secret data block (base64) keyed by base name.
func (f Files) AsSecrets() string {
	if len(f) == 0 {
		return ""
	}
	m := map[string]string{}
	for _, n := range f.sortedNames() {
		m[path.Base(n)] = base64.StdEncoding.EncodeToString(f[n])
	}
	return toYAML(m)
}

// Lines returns a file's lines ("" file = no lines).
func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
