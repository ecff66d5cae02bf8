// Values handling as Helm 3 does it: YAML read through JSON (numbers become float64), user
// values coalesced over the chart's defaults (maps merge deeply, null deletes a key), and
// --set key.path=value with Helm's scalar typing.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	yaml "gopkg.in/yaml.v2"
)

// yamlToJSONValue converts yaml.v2's map[interface{}]interface{} trees into the JSON-shaped
// values (map[string]interface{}, []interface{}, float64, string, bool, nil) that Helm sees,
// because Helm parses YAML with sigs.k8s.io/yaml, which goes through encoding/json.
func yamlToJSONValue(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, val := range t {
			conv, err := yamlToJSONValue(val)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = conv
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			conv, err := yamlToJSONValue(val)
			if err != nil {
				return nil, err
			}
			out[i] = conv
		}
		return out, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case float32:
		return float64(t), nil
	default:
		return t, nil
	}
}

// parseYAMLMap parses one YAML document into a JSON-shaped map (empty document = empty map).
func parseYAMLMap(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	conv, err := yamlToJSONValue(raw)
	if err != nil {
		return nil, err
	}
	m, ok := conv.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("top level is not a map")
	}
	return m, nil
}

// readValuesFile reads a values file into a JSON-shaped map.
func readValuesFile(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parseYAMLMap(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

// coalesce merges src over dst in place the way Helm's CoalesceValues does for user values:
// maps merge recursively, any other value replaces, and an explicit null removes the key.
func coalesce(dst, src map[string]interface{}) {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dst[k].(map[string]interface{})
		if sIsMap && dIsMap {
			coalesce(dm, sm)
			continue
		}
		dst[k] = sv
	}
}

// typedScalar types a --set value as Helm's strvals parser does: true/false, null, integers;
// everything else stays a string.
func typedScalar(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && (s == "0" || !strings.HasPrefix(s, "0")) {
		return i
	}
	return s
}

// applySet applies one --set expression "a.b.c=value" (dots separate keys, "\." escapes a dot;
// lists are not supported by this renderer) to vals.
func applySet(vals map[string]interface{}, expr string, asString bool) error {
	eq := strings.Index(expr, "=")
	if eq <= 0 {
		return fmt.Errorf("--set %q: expected key=value", expr)
	}
	keyPath, raw := expr[:eq], expr[eq+1:]
	var keys []string
	var cur strings.Builder
	for i := 0; i < len(keyPath); i++ {
		if keyPath[i] == '\\' && i+1 < len(keyPath) && keyPath[i+1] == '.' {
			cur.WriteByte('.')
			i++
			continue
		}
		if keyPath[i] == '.' {
			keys = append(keys, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(keyPath[i])
	}
	keys = append(keys, cur.String())
	node := vals
	for _, k := range keys[:len(keys)-1] {
		next, ok := node[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			node[k] = next
		}
		node = next
	}
	var v interface{} = raw
	if !asString {
		v = typedScalar(raw)
	}
	node[keys[len(keys)-1]] = v
	return nil
}

// toJSONCompatible round-trips v through encoding/json so every number is float64 and every
// map is map[string]interface{}, matching what templates would see from parsed YAML.
func toJSONCompatible(v interface{}) (interface{}, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out interface{}
	err = json.Unmarshal(data, &out)
	return out, err
}
