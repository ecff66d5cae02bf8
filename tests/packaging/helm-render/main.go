// helm-render: a test-only stand-in for `helm template`, because no Helm binary can be
// installed here. It renders a chart with Go's text/template and sprig the way Helm 3's
// pkg/engine does, for the subset of Helm the pygrid-operator chart uses (see the chart's
// README). It is not a Helm replacement: no subcharts, no hooks, no --set lists.
//
// Usage: helm-render --chart DIR [--release-name N] [--namespace NS] [-f values.yaml]...
//
//	[--set k=v]... [--set-string k=v]... [--api-versions g/v]... [--include-crds]
//	[--notes] [--values-json FILE]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	yaml "gopkg.in/yaml.v2"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// ChartMeta is .Chart: the Chart.yaml fields templates read, with Helm's field names.
type ChartMeta struct {
	APIVersion  string            `yaml:"apiVersion"`
	Name        string            `yaml:"name"`
	Version     string            `yaml:"version"`
	AppVersion  string            `yaml:"appVersion"`
	Description string            `yaml:"description"`
	Type        string            `yaml:"type"`
	KubeVersion string            `yaml:"kubeVersion"`
	Home        string            `yaml:"home"`
	Keywords    []string          `yaml:"keywords"`
	Annotations map[string]string `yaml:"annotations"`
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version, Major, Minor, GitVersion string
}

// String prints the version as Helm's does.
func (k KubeVersion) String() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether "group/version" or "group/version/Kind" was given with --api-versions.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities, fixed to the kubectl version installed here (1.32).
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// loadChart reads Chart.yaml, the templates and the other files (.Files) of a chart directory.
func loadChart(dir string) (ChartMeta, map[string]string, Files, error) {
	var meta ChartMeta
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return meta, nil, nil, err
	}
	if err := yaml.UnmarshalStrict(data, &meta); err != nil {
		return meta, nil, nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		return meta, nil, nil, errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}
	templates := map[string]string{}
	files := Files{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, werr error) error {
		if werr != nil {
			return werr
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "charts" {
				return errors.New("subcharts are not supported by helm-render")
			}
			return nil
		}
		content, rerr := os.ReadFile(p) // follows symlinks, as Helm's loader does
		if rerr != nil {
			return rerr
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			templates[meta.Name+"/"+rel] = string(content)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" ||
			rel == ".helmignore":
		default:
			files[rel] = content
		}
		return nil
	})
	return meta, templates, files, err
}

// docSep is Helm's manifest separator (pkg/releaseutil/manifest.go).
var docSep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// render executes every non-partial template and returns manifests keyed by template name,
// plus the rendered NOTES.txt.
func render(meta ChartMeta, templates map[string]string, top map[string]interface{}) (
	map[string]string, string, error) {
	root := template.New("gotpl").Option("missingkey=zero").Funcs(baseFuncMap())
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := root.New(n).Parse(templates[n]); err != nil {
			return nil, "", err
		}
	}
	includeDepth := 0
	funcs := template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			includeDepth++
			defer func() { includeDepth-- }()
			if includeDepth > 1000 {
				return "", fmt.Errorf("include %q: recursion too deep", name)
			}
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			clone, err := root.Clone()
			if err != nil {
				return "", err
			}
			t, err := clone.New("tpl").Parse(text)
			if err != nil {
				return "", fmt.Errorf("tpl: %v", err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return "", fmt.Errorf("tpl: %v", err)
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
		// No cluster is reachable: lookup finds nothing, as under `helm template`.
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
	}
	root.Funcs(funcs)

	out := map[string]string{}
	notes := ""
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": n, "BasePath": meta.Name + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, n, data); err != nil {
			return nil, "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if path.Base(n) == "NOTES.txt" {
			notes = text
			continue
		}
		out[n] = text
	}
	return out, notes, nil
}

func run() error {
	var chartDir, releaseName, namespace, valuesJSON string
	var valueFiles, sets, setStrings, apiVersions listFlag
	var includeCRDs, notesOnly bool
	flag.StringVar(&chartDir, "chart", "", "chart directory")
	flag.StringVar(&releaseName, "release-name", "release-name", ".Release.Name")
	flag.StringVar(&namespace, "namespace", "default", ".Release.Namespace")
	flag.Var(&valueFiles, "f", "values file (repeatable, later wins)")
	flag.Var(&sets, "set", "key.path=value (repeatable)")
	flag.Var(&setStrings, "set-string", "key.path=value kept as a string (repeatable)")
	flag.Var(&apiVersions, "api-versions", "extra .Capabilities.APIVersions entry (repeatable)")
	flag.BoolVar(&includeCRDs, "include-crds", false, "print crds/*.yaml before the templates")
	flag.BoolVar(&notesOnly, "notes", false, "print the rendered NOTES.txt instead of manifests")
	flag.StringVar(&valuesJSON, "values-json", "", "also write the merged values as JSON here")
	flag.Parse()
	if chartDir == "" {
		return errors.New("--chart is required")
	}
	meta, templates, files, err := loadChart(chartDir)
	if err != nil {
		return err
	}
	values, err := readValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range valueFiles {
		user, err := readValuesFile(f)
		if err != nil {
			return err
		}
		coalesce(values, user)
	}
	setVals := map[string]interface{}{}
	for _, s := range sets {
		if err := applySet(setVals, s, false); err != nil {
			return err
		}
	}
	for _, s := range setStrings {
		if err := applySet(setVals, s, true); err != nil {
			return err
		}
	}
	coalesce(values, setVals)
	if valuesJSON != "" {
		if err := os.WriteFile(valuesJSON, []byte(toJSON(values)), 0o644); err != nil {
			return err
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{"Name": releaseName, "Namespace": namespace,
			"Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Chart": meta,
		"Capabilities": Capabilities{
			KubeVersion: KubeVersion{Version: "v1.32.0", Major: "1", Minor: "32",
				GitVersion: "v1.32.0"},
			APIVersions: append(VersionSet{"v1", "apps/v1", "rbac.authorization.k8s.io/v1",
				"coordination.k8s.io/v1", "events.k8s.io/v1", "apiextensions.k8s.io/v1"},
				apiVersions...),
			HelmVersion: map[string]string{"Version": "v3.16.0"},
		},
		"Files": files,
	}
	manifests, notes, err := render(meta, templates, top)
	if err != nil {
		return err
	}
	if notesOnly {
		fmt.Print(notes)
		return nil
	}
	var w strings.Builder
	if includeCRDs {
		for _, n := range files.Glob("crds/*.yaml").sortedNames() {
			fmt.Fprintf(&w, "---\n# Source: %s/%s\n%s\n", meta.Name, n,
				strings.TrimSpace(string(files[n])))
		}
	}
	names := make([]string, 0, len(manifests))
	for n := range manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, doc := range docSep.Split(manifests[n], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fmt.Fprintf(&w, "---\n# Source: %s\n%s\n", n, strings.TrimRight(doc, " \n\t"))
		}
	}
	fmt.Print(w.String())
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render: Error:", err)
		os.Exit(1)
	}
}
