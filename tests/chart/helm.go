// A small offline stand-in for `helm template`, enough for the llmobs-edge chart: it loads a chart
// directory, merges values files over values.yaml as Helm does, validates the result against
// values.schema.json and renders templates/ with text/template + sprig and the Helm built-ins the
// chart uses. chart_test.go's checks (run by tests/chart/chart_test.sh) and the `render`
// subcommand of main.go use it.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	yamlv2 "gopkg.in/yaml.v2"
)

// Chart is a chart directory read into memory.
type Chart struct {
	Dir       string
	Metadata  map[string]interface{} // Chart.yaml, exposed to templates as .Chart.<Field>
	Defaults  map[string]interface{} // values.yaml
	Schema    []byte                 // values.schema.json, nil if absent
	Templates map[string]string      // "templates/x.yaml" -> text
}

// SchemaError is a values.schema.json violation (Helm: "values don't meet the specifications").
type SchemaError struct{ Problems []string }

func (e *SchemaError) Error() string {
	return "values don't meet the specifications of the schema(s):\n- " + strings.Join(e.Problems, "\n- ")
}

// RenderError is a template failure: a parse error, `required`, `fail` or an execution error.
type RenderError struct{ Err error }

func (e *RenderError) Error() string { return e.Err.Error() }

// LoadChart reads Chart.yaml, values.yaml, values.schema.json and every file under templates/.
func LoadChart(dir string) (*Chart, error) {
	c := &Chart{Dir: dir, Templates: map[string]string{}}
	meta, err := readYAMLFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	c.Metadata = meta
	if c.Defaults, err = readYAMLFile(filepath.Join(dir, "values.yaml")); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "values.schema.json")); err == nil {
		c.Schema = b
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(dir, "templates"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "templates", e.Name()))
		if err != nil {
			return nil, err
		}
		c.Templates["templates/"+e.Name()] = string(b)
	}
	return c, nil
}

// ParseValues reads YAML the way Helm reads values: YAML 1.1 (go-yaml v2), then through JSON, so
// maps have string keys and every number is a float64 (as `{{ .Values.x }}` sees it in Helm).
func ParseValues(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yamlv2.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(stringKeys(raw))
	if err != nil {
		return nil, err
	}
	var out map[string]interface{}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("values must be a mapping: %v", err)
	}
	return out, nil
}

func readYAMLFile(path string) (map[string]interface{}, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := ParseValues(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return v, nil
}

func stringKeys(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = stringKeys(val)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = stringKeys(t[i])
		}
	}
	return v
}

// Coalesce merges user values over defaults like Helm: maps merge key by key, anything else
// replaces, and a user null deletes the default.
func Coalesce(defaults, user map[string]interface{}) map[string]interface{} {
	out := deepCopyMap(defaults)
	for k, uv := range user {
		if uv == nil {
			delete(out, k)
			continue
		}
		um, uIsMap := uv.(map[string]interface{})
		dm, dIsMap := out[k].(map[string]interface{})
		if uIsMap && dIsMap {
			out[k] = Coalesce(dm, um)
		} else {
			out[k] = deepCopyValue(uv)
		}
	}
	return out
}

func deepCopyMap(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return deepCopyMap(t)
	case []interface{}:
		c := make([]interface{}, len(t))
		for i := range t {
			c[i] = deepCopyValue(t[i])
		}
		return c
	}
	return v
}

// Validate checks values against the chart's JSON schema (Helm uses the same library).
func (c *Chart) Validate(values map[string]interface{}) error {
	if c.Schema == nil {
		return nil
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(c.Schema), gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if res.Valid() {
		return nil
	}
	var problems []string
	for _, e := range res.Errors() {
		problems = append(problems, e.String())
	}
	sort.Strings(problems)
	return &SchemaError{Problems: problems}
}

// Release is what templates see as .Release.
type Release struct{ Name, Namespace string }

// Render merges valuesFiles (in order) over the defaults, validates and renders every template
// that is not a partial ("_*"). It returns the output of each file, NOTES.txt included.
func (c *Chart) Render(rel Release, valuesFiles ...map[string]interface{}) (map[string]string, error) {
	values := c.Defaults
	for _, v := range valuesFiles {
		values = Coalesce(values, v)
	}
	if err := c.Validate(values); err != nil {
		return nil, err
	}
	chartName, _ := c.Metadata["name"].(string)
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": rel.Name, "Namespace": rel.Namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": map[string]interface{}{
			"Name": c.Metadata["name"], "Version": c.Metadata["version"],
			"AppVersion": c.Metadata["appVersion"], "Description": c.Metadata["description"],
		},
	}

	root := template.New("gotpl").Option("missingkey=zero")
	funcs := helmFuncs(root)
	root.Funcs(funcs)
	names := make([]string, 0, len(c.Templates))
	for n := range c.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := root.New(chartName + "/" + n).Parse(c.Templates[n]); err != nil {
			return nil, &RenderError{err}
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(filepath.Base(n), "_") {
			continue
		}
		full := chartName + "/" + n
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": full, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, full, data); err != nil {
			return nil, &RenderError{err}
		}
		out[n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

// helmFuncs is sprig's function map less env/expandenv (as in Helm) plus the Helm built-ins the
// chart uses: include, required, toYaml, fromYaml.
func helmFuncs(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["required"] = func(msg string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, fmt.Errorf("%s", msg)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, fmt.Errorf("%s", msg)
		}
		return val, nil
	}
	f["toYaml"] = toYaml
	f["fromYaml"] = func(s string) map[string]interface{} {
		m, err := ParseValues([]byte(s))
		if err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		return m
	}
	return f
}

// toYaml is Helm's: JSON first (so numbers and key order come out as with sigs.k8s.io/yaml), then
// go-yaml v2, without the final newline; "" on error.
func toYaml(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yamlv2.Unmarshal(j, &obj); err != nil {
		return ""
	}
	y, err := yamlv2.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(y), "\n")
}
