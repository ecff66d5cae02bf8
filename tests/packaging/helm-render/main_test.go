package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeChart lays out a throw-away chart whose templates exercise one Helm feature each.
func writeChart(t *testing.T, templates map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml":      "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\n",
		"values.yaml":     "a: {b: 1, c: keep}\nlist: [x, z]\nname: demo\n",
		"files/one.json":  "{\"k\": 1}\n",
		"files/two.json":  "{\"k\": 2}\n",
		"files/other.txt": "line1\nline2\n",
	}
	for name, body := range templates {
		files["templates/"+name] = body
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func renderOne(t *testing.T, body string, override map[string]interface{}) (string, error) {
	t.Helper()
	dir := writeChart(t, map[string]string{"_h.tpl": `{{- define "h.x" -}}x={{ .name }}{{- end }}`,
		"t.yaml": body})
	meta, templates, files, err := loadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	values, err := readValuesFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	coalesce(values, override)
	top := map[string]interface{}{"Values": values, "Chart": meta, "Files": files,
		"Release": map[string]interface{}{"Name": "r", "Namespace": "ns", "Service": "Helm"}}
	out, _, err := render(meta, templates, top)
	return out["demo/templates/t.yaml"], err
}

func TestBuiltins(t *testing.T) {
	cases := map[string]string{
		`{{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}`:      "demo-1.2.3-4.5",
		`{{ .Release.Name }}/{{ .Release.Namespace }}/{{ .Release.Service }}`: "r/ns/Helm",
		`{{ include "h.x" .Values | upper }}`:                                 "X=DEMO",
		`{{ tpl "{{ .Values.a.c }}" . }}`:                                     "keep",
		`{{ .Values.missing }}`:                                               "",
		`{{ toYaml .Values.a | nindent 2 }}`:                                  "\n  b: 1\n  c: keep",
		`{{ toJson .Values.list }}`:                                           `["x","z"]`,
		`{{ (fromYaml "q: [1]").q }}`:                                         "[1]",
		`{{ .Files.Get "files/other.txt" | trim }}`:                           "line1\nline2",
		`{{ (.Files.Glob "files/*.json").AsConfig }}`:                         "one.json: |\n  {\"k\": 1}\ntwo.json: |\n  {\"k\": 2}",
		`{{ len (.Files.Lines "files/other.txt") }}`:                          "2",
		`{{ len (lookup "v1" "Secret" "ns" "x") }}`:                           "0",
	}
	for tmpl, want := range cases {
		got, err := renderOne(t, tmpl, nil)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", tmpl, got, err, want)
		}
	}
}

func TestRequiredAndFail(t *testing.T) {
	if _, err := renderOne(t, `{{ required "need x" .Values.x }}`, nil); err == nil ||
		!strings.Contains(err.Error(), "need x") {
		t.Errorf("required: %v", err)
	}
	if _, err := renderOne(t, `{{ fail "stop" }}`, nil); err == nil ||
		!strings.Contains(err.Error(), "stop") {
		t.Errorf("fail: %v", err)
	}
	if _, err := renderOne(t, `{{ env "HOME" }}`, nil); err == nil {
		t.Error("env must not be available (Helm removes it)")
	}
}

func TestCoalesce(t *testing.T) {
	got, err := renderOne(t, `{{ .Values.a.b }}|{{ .Values.a.c }}|{{ hasKey .Values.a "c" }}`,
		map[string]interface{}{"a": map[string]interface{}{"b": int64(7), "c": nil}})
	if err != nil || got != "7||false" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestSet(t *testing.T) {
	vals := map[string]interface{}{}
	for _, s := range []string{"a.b=true", "a.n=12", "a.s=012", "a.z=null", `x\.y=1.5`} {
		if err := applySet(vals, s, false); err != nil {
			t.Fatal(err)
		}
	}
	a := vals["a"].(map[string]interface{})
	if a["b"] != true || a["n"] != int64(12) || a["s"] != "012" || a["z"] != nil ||
		vals["x.y"] != "1.5" {
		t.Errorf("got %#v", vals)
	}
	if err := applySet(vals, "novalue", false); err == nil {
		t.Error("expected an error without '='")
	}
}

func TestValuesNumbersAreFloat64LikeHelm(t *testing.T) {
	m, err := parseYAMLMap([]byte("num: 2\nl: [3]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["num"].(float64); !ok {
		t.Errorf("num is %T", m["num"])
	}
}
