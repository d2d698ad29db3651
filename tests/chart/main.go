// charttest: renders the llmobs-edge Helm chart offline and checks it. `render` prints what
// `helm template` would (for people); `test` runs every check of checks.go and writes a JUnit XML
// report. tests/chart/chart_test.sh builds this program and runs `test` under `bazel test`.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  charttest render --chart DIR [--release NAME] [--namespace NS] [-f values.yaml]...
  charttest test --chart DIR --binary LLMOBS_EDGE --testdata DIR [--xml FILE]`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "render":
		os.Exit(runRender(os.Args[2:]))
	case "test":
		os.Exit(runTest(os.Args[2:]))
	default:
		usage()
	}
}

func runRender(args []string) int {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	chartDir := fs.String("chart", "deploy/helm/llmobs-edge", "chart directory")
	release := fs.String("release", "llmobs-edge", "release name")
	namespace := fs.String("namespace", "datadog", "release namespace")
	var files multiFlag
	fs.Var(&files, "f", "values file (repeatable; later wins)")
	fs.Parse(args)
	chart, err := LoadChart(*chartDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "charttest:", err)
		return 1
	}
	var values []map[string]interface{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "charttest:", err)
			return 1
		}
		v, err := ParseValues(b)
		if err != nil {
			fmt.Fprintf(os.Stderr, "charttest: %s: %v\n", f, err)
			return 1
		}
		values = append(values, v)
	}
	out, err := chart.Render(Release{Name: *release, Namespace: *namespace}, values...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(out[n]) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s/%s\n%s\n", chart.Metadata["name"], n, strings.TrimSpace(out[n]))
	}
	if notes, ok := out["templates/NOTES.txt"]; ok {
		fmt.Fprintf(os.Stderr, "NOTES:\n%s\n", notes)
	}
	return 0
}

func runTest(args []string) int {
	fs := flag.NewFlagSet("test", flag.ExitOnError)
	chartDir := fs.String("chart", "deploy/helm/llmobs-edge", "chart directory")
	binary := fs.String("binary", "", "the llmobs-edge binary (for --check-config)")
	testdata := fs.String("testdata", "tests/chart/testdata", "negative values files")
	dockerfile := fs.String("dockerfile", "deploy/Dockerfile", "the image whose ENV the pod starts with")
	xmlPath := fs.String("xml", os.Getenv("XML_OUTPUT_FILE"), "JUnit XML report")
	fs.Parse(args)
	if *binary == "" {
		fmt.Fprintln(os.Stderr, "charttest test: --binary is required")
		return 2
	}
	env, err := LoadImageEnv(*dockerfile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "charttest test:", err)
		return 2
	}
	imageEnv = env
	s := &Suite{ChartDir: *chartDir, Binary: *binary, Testdata: *testdata}
	s.RunAll()
	if *xmlPath != "" {
		if err := s.WriteJUnit(*xmlPath); err != nil {
			fmt.Fprintln(os.Stderr, "charttest: writing", *xmlPath+":", err)
			return 1
		}
	}
	passed, failed := s.Counts()
	fmt.Printf("chart: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
