// The checks of the llmobs-edge Helm chart: every ci/*-values.yaml (and the defaults) renders to
// a ConfigMap and a DaemonSet whose ports, probes, security settings, volumes, environment and
// annotations are what the values ask for, and whose config file the real binary accepts
// (`llmobs-edge --config FILE --check-config`, with the pod's environment); bad values are refused
// by the schema or by the templates. main.go's `test` subcommand runs them.
package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	yamlv3 "gopkg.in/yaml.v3"
)

const (
	releaseName = "llmobs-edge"
	namespace   = "datadog"
	// What the checks substitute for the downward API's status.hostIP and for a Secret's value.
	fakeHostIP = "10.1.2.3"
	fakeAPIKey = "test-api-key-not-a-real-one"
)

// imageEnv is the ENV of deploy/Dockerfile's last (runtime) stage, read by LoadImageEnv: the
// container starts with it, and the pod's env entries override it.
var imageEnv = map[string]string{}

// LoadImageEnv reads the `ENV K=V ...` instructions (with backslash continuations) of the last
// stage of a Dockerfile. Values with spaces or quotes are not supported and are reported.
func LoadImageEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var logical []string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		logical = append(logical, cur+trimmed)
		cur = ""
	}
	env := map[string]string{}
	for _, l := range logical {
		fields := strings.Fields(l)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			env = map[string]string{} // only the last stage's ENV reaches the image
		case "ENV":
			for _, kv := range fields[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.ContainsAny(v, "\"'$") {
					return nil, fmt.Errorf("%s: unsupported ENV form %q", path, kv)
				}
				env[k] = v
			}
		}
	}
	if len(env) == 0 {
		return nil, fmt.Errorf("%s: the last stage sets no ENV", path)
	}
	return env, nil
}

// expectation says what one values set must produce. Ports and paths are the effective ones.
type expectation struct {
	topology       string
	tcpPort        int    // 0: no TCP ingest
	tcpHostPort    bool   // published on the node
	socket         string // "": no Unix socket
	grpcPort       int    // 0: no gRPC
	telemetryPort  int
	agentURL       string // effective agent.url with status.hostIP = fakeHostIP
	intakeMode     string
	site           string // agentless only
	ledgerHostPath string // "": emptyDir
	initContainer  bool
	grace          int
	uid            int
	extra          func(t *T, r *Rendered, eff map[string]interface{})
}

// cases: the defaults (values.yaml alone) and each ci/*-values.yaml. A ci file without an entry
// here, or an entry without its file, is a failure.
var cases = map[string]expectation{
	"": {
		topology: "dedicated", tcpPort: 8136, tcpHostPort: true,
		socket: "/var/run/datadog/llmobs-edge.socket", telemetryPort: 8138,
		agentURL: "http://" + fakeHostIP + ":8126", intakeMode: "agent",
		ledgerHostPath: "/var/lib/llmobs-edge", initContainer: true, grace: 30, uid: 10001,
	},
	"ci/dedicated-agent-socket-values.yaml": {
		topology: "dedicated", tcpPort: 8136, tcpHostPort: true,
		socket: "/var/run/datadog/llmobs-edge.socket", telemetryPort: 8138,
		agentURL: "unix:///var/run/datadog/apm.socket", intakeMode: "agent",
		ledgerHostPath: "/var/lib/llmobs-edge", initContainer: true, grace: 30, uid: 10001,
		extra: func(t *T, r *Rendered, eff map[string]interface{}) {
			// The Agent's socket is in the edge's own socket directory: one volume, writable.
			if v := r.volume("agent-socket"); v != nil {
				t.Errorf("agent-socket volume rendered although the Agent's socket shares the ingest-socket directory")
			}
			if env := r.env(); env["DD_AGENT_HOST"] != nil || env["DD_TRACE_AGENT_PORT"] != nil {
				t.Errorf("agent.via = socket must not set DD_AGENT_HOST / DD_TRACE_AGENT_PORT (they would override agent.url)")
			}
		},
	},
	"ci/takeover-port-values.yaml": {
		topology: "takeover", tcpPort: 8126, tcpHostPort: true,
		socket: "/var/run/datadog/apm.socket", telemetryPort: 8138,
		agentURL: "http://" + fakeHostIP + ":8127", intakeMode: "agent",
		ledgerHostPath: "/var/lib/llmobs-edge", initContainer: true, grace: 30, uid: 10001,
	},
	"ci/takeover-socket-values.yaml": {
		topology: "takeover", tcpPort: 8126, tcpHostPort: true,
		socket: "/var/run/datadog/apm.socket", telemetryPort: 8138,
		agentURL: "unix:///var/run/datadog-agent/apm.socket", intakeMode: "agent",
		ledgerHostPath: "/var/lib/llmobs-edge", initContainer: true, grace: 30, uid: 10001,
		extra: func(t *T, r *Rendered, eff map[string]interface{}) {
			v := r.volume("agent-socket")
			if v == nil {
				t.Fatalf("no agent-socket volume for the Agent's socket directory /var/run/datadog-agent")
			}
			if p := str(dig(v, "hostPath", "path")); p != "/var/run/datadog-agent" {
				t.Errorf("agent-socket hostPath = %q, want /var/run/datadog-agent", p)
			}
			m := r.mount("agent-socket")
			if m == nil || dig(m, "readOnly") != true {
				t.Errorf("the Agent's socket directory must be mounted read-only: %v", m)
			}
		},
	},
	"ci/agentless-values.yaml": {
		topology: "dedicated", tcpPort: 8136, tcpHostPort: true,
		socket: "/var/run/datadog/llmobs-edge.socket", telemetryPort: 8138,
		agentURL: "http://" + fakeHostIP + ":8126", intakeMode: "agentless", site: "datadoghq.eu",
		ledgerHostPath: "/var/lib/llmobs-edge", initContainer: true, grace: 30, uid: 10001,
		extra: func(t *T, r *Rendered, eff map[string]interface{}) {
			ref := dig(r.env()["DD_API_KEY"], "valueFrom", "secretKeyRef")
			if str(dig(ref, "name")) != "datadog-secret" || str(dig(ref, "key")) != "api-key" {
				t.Errorf("DD_API_KEY secretKeyRef = %v, want datadog-secret/api-key", ref)
			}
			if got := str(dig(eff, "intake", "api_key")); got != "<redacted>" {
				t.Errorf("effective intake.api_key = %q, want the Secret's value (printed <redacted>)", got)
			}
		},
	},
	"ci/emptydir-tcp-grpc-values.yaml": {
		topology: "dedicated", tcpPort: 9126, tcpHostPort: true, grpcPort: 8137, telemetryPort: 9138,
		agentURL: "http://datadog-agent.datadog.svc.cluster.local:8126", intakeMode: "agent",
		initContainer: false, grace: 35, uid: 10001,
		extra: func(t *T, r *Rendered, eff map[string]interface{}) {
			if got := str(dig(r.volume("ledger"), "emptyDir", "sizeLimit")); got != "4Gi" {
				t.Errorf("ledger emptyDir sizeLimit = %q, want 4Gi", got)
			}
			if got := str(dig(eff, "logging", "level")); got != "warn" {
				t.Errorf("effective logging.level = %q, want warn (from config:)", got)
			}
			if got := str(dig(eff, "ledger", "sync")); got != "interval" {
				t.Errorf("effective ledger.sync = %q, want interval (from config:)", got)
			}
			if got := num(dig(eff, "ingest", "threads")); got != 4 {
				t.Errorf("effective ingest.threads = %v, want 4 (from extraEnv DD_LLMOBS_EDGE_THREADS)", got)
			}
			if !r.hasHostPort(9138) {
				t.Errorf("telemetry.hostPort: true but no hostPort 9138")
			}
		},
	},
	"ci/scheduling-values.yaml": {
		topology: "dedicated", tcpPort: 8136, tcpHostPort: false,
		socket: "/var/run/datadog/llmobs-edge.socket", telemetryPort: 8138,
		agentURL: "http://" + fakeHostIP + ":8126", intakeMode: "agent",
		ledgerHostPath: "/srv/llmobs-edge", initContainer: true, grace: 60, uid: 20000,
		extra: func(t *T, r *Rendered, eff map[string]interface{}) {
			pod := r.Pod
			if got := str(dig(pod, "priorityClassName")); got != "datadog-agent" {
				t.Errorf("priorityClassName = %q, want datadog-agent", got)
			}
			if tol := list(dig(pod, "tolerations")); len(tol) != 1 || str(dig(tol[0], "operator")) != "Exists" {
				t.Errorf("tolerations = %v, want the one of the values file", tol)
			}
			if got := str(dig(pod, "nodeSelector", "node-role.example.com/apps")); got != "true" {
				t.Errorf("nodeSelector = %v", dig(pod, "nodeSelector"))
			}
			if dig(pod, "affinity", "nodeAffinity") == nil {
				t.Errorf("affinity not rendered: %v", dig(pod, "affinity"))
			}
			if got := str(dig(r.Container, "resources", "limits", "memory")); got != "2Gi" {
				t.Errorf("resources.limits.memory = %q, want 2Gi", got)
			}
			if got := str(dig(r.Container, "image")); got != "registry.example.com/llmobs-edge:1.2.3" {
				t.Errorf("image = %q", got)
			}
			if got := str(dig(r.DaemonSet, "spec", "template", "metadata", "annotations", "example.com/team")); got != "llmobs" {
				t.Errorf("podAnnotations not rendered")
			}
			if got := num(dig(r.Container, "livenessProbe", "failureThreshold")); got != 10 {
				t.Errorf("livenessProbe.failureThreshold = %v, want 10", got)
			}
			// The init container chowns the ledger directory for the configured uid/gid.
			cmd := strings.Join(strs(dig(r.initContainer(), "command")), " ")
			if !strings.Contains(cmd, "chown 20000:20000 /var/lib/llmobs-edge") {
				t.Errorf("init container command %q does not chown the ledger mount to 20000:20000", cmd)
			}
			// autodiscovery.metrics: a listed set.
			inst := r.adInstance(t)
			if got := strs(dig(inst, "metrics")); strings.Join(got, ",") != "rescue_.*,intake_.*,ledger_.*" {
				t.Errorf("AD metrics = %v, want the listed set", got)
			}
		},
	},
}

// ---------------------------------------------------------------------------------------------
// The runner: each check is a named case with its own failures, reported as a JUnit test case.

type T struct {
	name     string
	prefix   string // put before each failure message
	failures []string
}

type fatalStop struct{}

func (t *T) Errorf(format string, a ...interface{}) {
	t.failures = append(t.failures, t.prefix+fmt.Sprintf(format, a...))
}

func (t *T) Fatalf(format string, a ...interface{}) {
	t.Errorf(format, a...)
	panic(fatalStop{})
}

type Result struct {
	Name     string
	Failures []string
	Seconds  float64
}

type Suite struct {
	ChartDir, Binary, Testdata string
	chart                      *Chart
	results                    []Result
	tmp                        string
}

func (s *Suite) run(name string, fn func(t *T)) {
	t := &T{name: name}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatalStop); !ok {
					t.Errorf("panic: %v\n%s", r, debug.Stack())
				}
			}
		}()
		fn(t)
	}()
	res := Result{Name: name, Failures: t.failures, Seconds: time.Since(start).Seconds()}
	s.results = append(s.results, res)
	if len(res.Failures) == 0 {
		fmt.Printf("PASS %s\n", name)
	} else {
		fmt.Printf("FAIL %s\n", name)
		for _, f := range res.Failures {
			fmt.Printf("    %s\n", strings.ReplaceAll(f, "\n", "\n    "))
		}
	}
}

func (s *Suite) Counts() (passed, failed int) {
	for _, r := range s.results {
		if len(r.Failures) == 0 {
			passed++
		} else {
			failed++
		}
	}
	return
}

func (s *Suite) WriteJUnit(path string) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	type testsuites struct {
		XMLName xml.Name  `xml:"testsuites"`
		Suite   testsuite `xml:"testsuite"`
	}
	ts := testsuite{Name: "chart"}
	for _, r := range s.results {
		c := testcase{Name: r.Name, Classname: "chart", Time: fmt.Sprintf("%.3f", r.Seconds)}
		if len(r.Failures) > 0 {
			c.Failure = &failure{Message: r.Failures[0], Text: strings.Join(r.Failures, "\n")}
			ts.Failures++
		}
		ts.Tests++
		ts.Cases = append(ts.Cases, c)
	}
	b, err := xml.MarshalIndent(testsuites{Suite: ts}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), b...), 0o644)
}

// RunAll runs every check.
func (s *Suite) RunAll() {
	s.tmp = os.Getenv("TEST_TMPDIR")
	if s.tmp == "" {
		s.tmp = os.TempDir()
	}
	var err error
	s.run("chart/loads", func(t *T) {
		s.chart, err = LoadChart(s.ChartDir)
		if err != nil {
			t.Fatalf("%v", err)
		}
		for _, k := range []string{"name", "version", "appVersion"} {
			if str(s.chart.Metadata[k]) == "" {
				t.Errorf("Chart.yaml has no %s", k)
			}
		}
		if str(s.chart.Metadata["apiVersion"]) != "v2" {
			t.Errorf("Chart.yaml apiVersion = %v, want v2", s.chart.Metadata["apiVersion"])
		}
		if s.chart.Schema == nil {
			t.Errorf("values.schema.json is missing")
		}
	})
	if s.chart == nil {
		return
	}
	s.run("binary/rejects-a-bad-config", s.checkBinaryRejects)

	ciFiles, _ := filepath.Glob(filepath.Join(s.ChartDir, "ci", "*-values.yaml"))
	seen := map[string]bool{"": true}
	for _, f := range ciFiles {
		rel := "ci/" + filepath.Base(f)
		seen[rel] = true
		if _, ok := cases[rel]; !ok {
			s.run("render/"+rel, func(t *T) {
				t.Errorf("%s has no expectation in tests/chart/checks.go (cases)", rel)
			})
		}
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		n, exp := n, cases[n]
		label := n
		if label == "" {
			label = "values.yaml"
		}
		if !seen[n] {
			s.run("render/"+label, func(t *T) { t.Errorf("expected values file %s is missing", n) })
			continue
		}
		s.run("render/"+label, func(t *T) { s.checkCase(t, n, exp) })
	}

	s.run("checksum/changes-with-config", s.checkChecksum)
	s.run("render/deterministic", func(t *T) {
		a, b := s.render(t, nil), s.render(t, nil)
		if a.Text != b.Text {
			t.Errorf("two renderings of the same values differ")
		}
	})

	bad, _ := filepath.Glob(filepath.Join(s.Testdata, "*.yaml"))
	if len(bad) == 0 {
		s.run("negative/present", func(t *T) { t.Errorf("no negative values files in %s", s.Testdata) })
	}
	for _, f := range bad {
		f := f
		s.run("negative/"+filepath.Base(f), func(t *T) { s.checkNegative(t, f) })
	}
}

// ---------------------------------------------------------------------------------------------
// Rendering.

type Rendered struct {
	Files      map[string]string
	Text       string
	Objects    []map[string]interface{}
	DaemonSet  map[string]interface{}
	ConfigMap  map[string]interface{}
	Pod        map[string]interface{} // spec.template.spec
	Container  map[string]interface{} // the llmobs-edge container
	ConfigFile string                 // the ConfigMap's config file
	ConfigPath string                 // where the pod reads it (--config)
}

func (s *Suite) loadValues(t *T, file string) map[string]interface{} {
	b, err := os.ReadFile(filepath.Join(s.ChartDir, file))
	if err != nil {
		t.Fatalf("%v", err)
	}
	v, err := ParseValues(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

func inline(t *T, text string) map[string]interface{} {
	v, err := ParseValues([]byte(text))
	if err != nil {
		t.Fatalf("inline values: %v", err)
	}
	return v
}

func (s *Suite) render(t *T, values ...map[string]interface{}) *Rendered {
	var vs []map[string]interface{}
	for _, v := range values {
		if v != nil {
			vs = append(vs, v)
		}
	}
	files, err := s.chart.Render(Release{Name: releaseName, Namespace: namespace}, vs...)
	if err != nil {
		t.Fatalf("rendering failed: %v", err)
	}
	r := &Rendered{Files: files}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") {
			if strings.TrimSpace(files[n]) == "" {
				t.Errorf("NOTES.txt renders empty")
			}
			continue
		}
		r.Text += "---\n" + files[n] + "\n"
		dec := yamlv3.NewDecoder(strings.NewReader(files[n]))
		for {
			var doc interface{}
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s does not parse as YAML: %v\n%s", n, err, numbered(files[n]))
			}
			if doc == nil {
				continue
			}
			obj, ok := doc.(map[string]interface{})
			if !ok {
				t.Fatalf("%s: a document is not a mapping: %v", n, doc)
			}
			r.Objects = append(r.Objects, obj)
		}
	}
	for _, o := range r.Objects {
		switch str(o["kind"]) {
		case "DaemonSet":
			r.DaemonSet = o
		case "ConfigMap":
			r.ConfigMap = o
		}
	}
	if r.DaemonSet == nil || r.ConfigMap == nil {
		t.Fatalf("want a DaemonSet and a ConfigMap, got %d objects:\n%s", len(r.Objects), r.Text)
	}
	r.Pod = mapOf(dig(r.DaemonSet, "spec", "template", "spec"))
	for _, c := range list(dig(r.Pod, "containers")) {
		if str(dig(c, "name")) == "llmobs-edge" {
			r.Container = mapOf(c)
		}
	}
	if r.Container == nil {
		t.Fatalf("no container named llmobs-edge in the DaemonSet")
	}
	return r
}

func numbered(text string) string {
	var b strings.Builder
	for i, l := range strings.Split(text, "\n") {
		fmt.Fprintf(&b, "%4d| %s\n", i+1, l)
	}
	return b.String()
}

func (r *Rendered) volume(name string) map[string]interface{} {
	for _, v := range list(dig(r.Pod, "volumes")) {
		if str(dig(v, "name")) == name {
			return mapOf(v)
		}
	}
	return nil
}

func (r *Rendered) mount(name string) map[string]interface{} {
	for _, m := range list(dig(r.Container, "volumeMounts")) {
		if str(dig(m, "name")) == name {
			return mapOf(m)
		}
	}
	return nil
}

func (r *Rendered) initContainer() map[string]interface{} {
	for _, c := range list(dig(r.Pod, "initContainers")) {
		return mapOf(c)
	}
	return nil
}

func (r *Rendered) env() map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for _, e := range list(dig(r.Container, "env")) {
		out[str(dig(e, "name"))] = mapOf(e)
	}
	return out
}

func (r *Rendered) port(name string) map[string]interface{} {
	for _, p := range list(dig(r.Container, "ports")) {
		if str(dig(p, "name")) == name {
			return mapOf(p)
		}
	}
	return nil
}

func (r *Rendered) hasHostPort(n int) bool {
	for _, p := range list(dig(r.Container, "ports")) {
		if num(dig(p, "hostPort")) == float64(n) {
			return true
		}
	}
	return false
}

func (r *Rendered) annotations() map[string]interface{} {
	return mapOf(dig(r.DaemonSet, "spec", "template", "metadata", "annotations"))
}

// adInstance returns the openmetrics instance of the Autodiscovery annotation.
func (r *Rendered) adInstance(t *T) map[string]interface{} {
	key := "ad.datadoghq.com/" + str(r.Container["name"]) + ".checks"
	raw := str(r.annotations()[key])
	if raw == "" {
		t.Fatalf("no %s annotation on the pod template", key)
	}
	var checks map[string]interface{}
	if err := json.Unmarshal([]byte(raw), &checks); err != nil {
		t.Fatalf("%s is not JSON: %v: %s", key, err, raw)
	}
	insts := list(dig(checks, "openmetrics", "instances"))
	if len(insts) != 1 {
		t.Fatalf("%s: want one openmetrics instance, got %v", key, checks)
	}
	if _, ok := dig(checks, "openmetrics", "init_config").(map[string]interface{}); !ok {
		t.Errorf("%s: openmetrics.init_config must be an object: %v", key, checks)
	}
	return mapOf(insts[0])
}

// ---------------------------------------------------------------------------------------------
// Running the real binary.

type checkResult struct {
	code           int
	stdout, stderr string
	effective      map[string]interface{}
}

func (s *Suite) checkConfig(t *T, configText string, env map[string]string) checkResult {
	f, err := os.CreateTemp(s.tmp, "config-*.yaml")
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(configText); err != nil {
		t.Fatalf("%v", err)
	}
	f.Close()
	cmd := exec.Command(s.Binary, "--config", f.Name(), "--check-config")
	// Only the variables given: the test's own environment must not leak DD_* settings in. The
	// sanitizers' options pass through so --config=asan/ubsan runs behave as configured.
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for _, k := range []string{"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	res := checkResult{}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s: %v", s.Binary, err)
		}
		res.code = ee.ExitCode()
	}
	res.stdout, res.stderr = out.String(), errb.String()
	if res.code == 0 {
		if err := yamlv3.Unmarshal(out.Bytes(), &res.effective); err != nil {
			t.Fatalf("--check-config printed something that is not YAML: %v\n%s", err, res.stdout)
		}
	}
	return res
}

// podEnv is the environment the edge process gets: the image's ENV, then the container's env
// entries (the downward API's status.hostIP and Secret values replaced by stand-ins).
func (r *Rendered) podEnv(t *T) map[string]string {
	env := map[string]string{}
	for k, v := range imageEnv {
		env[k] = v
	}
	for _, e := range list(dig(r.Container, "env")) {
		name := str(dig(e, "name"))
		if v, ok := mapOf(e)["value"]; ok {
			if _, isString := v.(string); !isString && v != nil {
				t.Errorf("env %s: value %v is not a string (Kubernetes refuses it)", name, v)
			}
			env[name] = str(v)
			continue
		}
		switch {
		case str(dig(e, "valueFrom", "fieldRef", "fieldPath")) == "status.hostIP":
			env[name] = fakeHostIP
		case dig(e, "valueFrom", "secretKeyRef") != nil:
			env[name] = fakeAPIKey
		default:
			t.Errorf("env %s: no value and no valueFrom the test knows: %v", name, e)
		}
	}
	return env
}

func (s *Suite) checkBinaryRejects(t *T) {
	res := s.checkConfig(t, "ingest:\n  prot: 8136\n", nil)
	if res.code != 2 || !strings.Contains(res.stderr, "ingest.prot") {
		t.Errorf("llmobs-edge --check-config on a config with a typo: exit %d, stderr %q; want exit 2 naming ingest.prot", res.code, res.stderr)
	}
	res = s.checkConfig(t, "", nil)
	if res.code != 0 || str(dig(res.effective, "ingest", "host")) != "127.0.0.1" {
		t.Errorf("llmobs-edge --check-config on an empty file: exit %d, stderr %q, want 0 and the defaults", res.code, res.stderr)
	}
}

// ---------------------------------------------------------------------------------------------
// The checks of one rendering.

func (s *Suite) checkCase(t *T, file string, exp expectation) {
	var values map[string]interface{}
	if file != "" {
		values = s.loadValues(t, file)
	}
	r := s.render(t, values)
	s.checkObjects(t, r)
	s.checkSecurity(t, r, exp)
	s.checkConfigMapAndArgs(t, r)

	// The config file must be valid on its own (given only what a file cannot hold: the Secret's
	// values), and so must the effective config of the pod (image ENV + the pod's env).
	podEnv := r.podEnv(t)
	secrets := map[string]string{}
	for name, e := range r.env() {
		if dig(e, "valueFrom", "secretKeyRef") != nil {
			secrets[name] = podEnv[name]
		}
	}
	alone := s.checkConfig(t, r.ConfigFile, secrets)
	if alone.code != 0 {
		t.Fatalf("llmobs-edge --check-config rejects the rendered config file (exit %d): %s\n%s", alone.code, alone.stderr, numbered(r.ConfigFile))
	}
	res := s.checkConfig(t, r.ConfigFile, podEnv)
	if res.code != 0 {
		t.Fatalf("llmobs-edge --check-config with the pod's environment fails (exit %d): %s", res.code, res.stderr)
	}
	eff := res.effective
	if strings.Contains(res.stdout, fakeAPIKey) {
		t.Errorf("--check-config printed the API key")
	}
	// Listeners as the pod runs them, and as the file alone says (the chart must not depend on
	// the image's ENV for them).
	s.checkListeners(t, r, exp, eff)
	t.prefix = "config file alone: "
	s.checkListeners(t, r, exp, alone.effective)
	t.prefix = ""
	s.checkAgent(t, r, exp, eff)
	s.checkIntake(t, r, exp, eff)
	s.checkLedger(t, r, exp, eff)
	s.checkProbesAndGrace(t, r, exp, eff)
	s.checkAutodiscovery(t, r, eff)
	if exp.extra != nil {
		exp.extra(t, r, eff)
	}
}

func (s *Suite) checkObjects(t *T, r *Rendered) {
	kinds := map[string]int{}
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	for _, o := range r.Objects {
		kind := str(o["kind"])
		kinds[kind]++
		name := str(dig(o, "metadata", "name"))
		if name != releaseName {
			t.Errorf("%s name = %q, want %q (the release name, which contains the chart name)", kind, name, releaseName)
		}
		if !dns.MatchString(name) || len(name) > 63 {
			t.Errorf("%s name %q is not a DNS label", kind, name)
		}
		if ns := str(dig(o, "metadata", "namespace")); ns != namespace {
			t.Errorf("%s namespace = %q, want %q", kind, ns, namespace)
		}
		want := map[string]string{"ConfigMap": "v1", "DaemonSet": "apps/v1"}[kind]
		if want == "" {
			t.Errorf("unexpected kind %q", kind)
		} else if got := str(o["apiVersion"]); got != want {
			t.Errorf("%s apiVersion = %q, want %q", kind, got, want)
		}
		if str(dig(o, "metadata", "labels", "app.kubernetes.io/name")) != "llmobs-edge" {
			t.Errorf("%s lacks the app.kubernetes.io/name label", kind)
		}
	}
	if kinds["ConfigMap"] != 1 || kinds["DaemonSet"] != 1 || len(r.Objects) != 2 {
		t.Errorf("want exactly one ConfigMap and one DaemonSet, got %v", kinds)
	}
	// The selector must select the pod template, and the admission controller must leave it.
	sel := mapOf(dig(r.DaemonSet, "spec", "selector", "matchLabels"))
	labels := mapOf(dig(r.DaemonSet, "spec", "template", "metadata", "labels"))
	if len(sel) == 0 {
		t.Errorf("DaemonSet has no selector.matchLabels")
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("selector %s=%v does not match the pod template's labels %v", k, v, labels)
		}
	}
	if labels["admission.datadoghq.com/enabled"] != "false" {
		t.Errorf(`pod template label admission.datadoghq.com/enabled = %v, want "false"`, labels["admission.datadoghq.com/enabled"])
	}
	// No secret material anywhere: DD_API_KEY only through a secretKeyRef.
	if regexp.MustCompile(`(?i)api[_-]?key\s*:\s*["']?[A-Za-z0-9]{8,}`).MatchString(r.Text) {
		t.Errorf("the rendered manifests contain something that looks like an API key")
	}
	for name, e := range r.env() {
		if strings.Contains(name, "API_KEY") || strings.Contains(name, "APP_KEY") {
			if _, inline := e["value"]; inline {
				t.Errorf("env %s has an inline value; it must come from a secretKeyRef", name)
			}
			ref := dig(e, "valueFrom", "secretKeyRef")
			if str(dig(ref, "name")) == "" || str(dig(ref, "key")) == "" {
				t.Errorf("env %s: want valueFrom.secretKeyRef with name and key, got %v", name, e)
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range list(dig(r.Container, "env")) {
		n := str(dig(e, "name"))
		if seen[n] {
			t.Errorf("env %s is set twice", n)
		}
		seen[n] = true
	}
}

func (s *Suite) checkSecurity(t *T, r *Rendered, exp expectation) {
	pod := r.Pod
	if dig(pod, "automountServiceAccountToken") != false {
		t.Errorf("automountServiceAccountToken must be false (the edge never calls the API server)")
	}
	if dig(pod, "hostNetwork") == true || dig(pod, "hostPID") == true || dig(pod, "hostIPC") == true {
		t.Errorf("the pod must not use the host's network, PID or IPC namespace")
	}
	psc := mapOf(dig(pod, "securityContext"))
	if psc["runAsNonRoot"] != true || num(psc["runAsUser"]) != float64(exp.uid) {
		t.Errorf("pod securityContext = %v, want runAsNonRoot and runAsUser %d", psc, exp.uid)
	}
	if str(dig(psc, "seccompProfile", "type")) != "RuntimeDefault" {
		t.Errorf("pod seccompProfile = %v, want RuntimeDefault", dig(psc, "seccompProfile"))
	}
	sc := mapOf(dig(r.Container, "securityContext"))
	checks := []struct {
		key  string
		want interface{}
	}{
		{"runAsNonRoot", true}, {"readOnlyRootFilesystem", true}, {"allowPrivilegeEscalation", false},
	}
	for _, c := range checks {
		if sc[c.key] != c.want {
			t.Errorf("container securityContext.%s = %v, want %v", c.key, sc[c.key], c.want)
		}
	}
	if uid := num(sc["runAsUser"]); uid != float64(exp.uid) || uid == 0 {
		t.Errorf("container runAsUser = %v, want %d", sc["runAsUser"], exp.uid)
	}
	if sc["privileged"] == true {
		t.Errorf("container is privileged")
	}
	if d := strs(dig(sc, "capabilities", "drop")); len(d) != 1 || d[0] != "ALL" {
		t.Errorf("container capabilities.drop = %v, want [ALL]", d)
	}
	if a := dig(sc, "capabilities", "add"); a != nil {
		t.Errorf("container adds capabilities %v", a)
	}
	if str(dig(sc, "seccompProfile", "type")) != "RuntimeDefault" {
		t.Errorf("container seccompProfile = %v, want RuntimeDefault", dig(sc, "seccompProfile"))
	}
	// The init container: only when asked for, root with CHOWN/FOWNER only, hostPath mounts only.
	inits := list(dig(pod, "initContainers"))
	if exp.initContainer != (len(inits) > 0) {
		t.Errorf("init containers = %d, want present=%v", len(inits), exp.initContainer)
	}
	for _, ic := range inits {
		isc := mapOf(dig(ic, "securityContext"))
		if str(dig(ic, "name")) != "volume-permissions" {
			t.Errorf("unexpected init container %v", dig(ic, "name"))
		}
		if isc["allowPrivilegeEscalation"] != false || isc["readOnlyRootFilesystem"] != true {
			t.Errorf("init container securityContext = %v: want no privilege escalation and a read-only root", isc)
		}
		if d := strs(dig(isc, "capabilities", "drop")); len(d) != 1 || d[0] != "ALL" {
			t.Errorf("init container capabilities.drop = %v, want [ALL]", d)
		}
		for _, c := range strs(dig(isc, "capabilities", "add")) {
			if c != "CHOWN" && c != "FOWNER" {
				t.Errorf("init container adds capability %s (only CHOWN and FOWNER are needed)", c)
			}
		}
		if str(dig(isc, "seccompProfile", "type")) != "RuntimeDefault" {
			t.Errorf("init container seccompProfile = %v", dig(isc, "seccompProfile"))
		}
		for _, m := range list(dig(ic, "volumeMounts")) {
			if v := r.volume(str(dig(m, "name"))); dig(v, "hostPath") == nil {
				t.Errorf("init container mounts %v, which is not a hostPath volume", dig(m, "name"))
			}
		}
		cmd := strings.Join(strs(dig(ic, "command")), " ")
		if exp.ledgerHostPath != "" && !strings.Contains(cmd, fmt.Sprintf("chown %d:", exp.uid)) {
			t.Errorf("init container command %q does not chown the ledger directory to uid %d", cmd, exp.uid)
		}
		if exp.socket != "" && !strings.Contains(cmd, "chgrp") {
			t.Errorf("init container command %q does not give the group the socket directory", cmd)
		}
	}
}

func (s *Suite) checkConfigMapAndArgs(t *T, r *Rendered) {
	args := strs(dig(r.Container, "args"))
	if len(args) != 2 || args[0] != "--config" {
		t.Fatalf("container args = %v, want [--config FILE]", args)
	}
	r.ConfigPath = args[1]
	m := r.mount("config")
	if m == nil || str(m["mountPath"]) != path.Dir(r.ConfigPath) {
		t.Errorf("--config %s is not in the config volume's mount %v", r.ConfigPath, m)
	}
	if cm := str(dig(r.volume("config"), "configMap", "name")); cm != str(dig(r.ConfigMap, "metadata", "name")) {
		t.Errorf("config volume uses ConfigMap %q, the chart renders %q", cm, dig(r.ConfigMap, "metadata", "name"))
	}
	text, ok := dig(r.ConfigMap, "data", path.Base(r.ConfigPath)).(string)
	if !ok || strings.TrimSpace(text) == "" {
		t.Fatalf("ConfigMap has no data key %q", path.Base(r.ConfigPath))
	}
	r.ConfigFile = text
	var cfg map[string]interface{}
	if err := yamlv3.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("the config file is not YAML: %v\n%s", err, numbered(text))
	}
	if k := str(dig(cfg, "intake", "api_key")); k != "" {
		t.Errorf("the ConfigMap holds intake.api_key")
	}
	sum := str(r.annotations()["checksum/config"])
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
		t.Errorf("checksum/config annotation = %q, want a sha256", sum)
	}
}

func (s *Suite) checkListeners(t *T, r *Rendered, exp expectation, eff map[string]interface{}) {
	// TCP ingest: on every interface, at the container port (and host port) the values ask for.
	ingest := r.port("ingest")
	if exp.tcpPort == 0 {
		if ingest != nil || num(dig(eff, "ingest", "port")) != 0 {
			t.Errorf("TCP ingest should be off: port %v, effective ingest.port %v", ingest, dig(eff, "ingest", "port"))
		}
	} else {
		if num(dig(ingest, "containerPort")) != float64(exp.tcpPort) {
			t.Errorf("ingest containerPort = %v, want %d", dig(ingest, "containerPort"), exp.tcpPort)
		}
		if hp := dig(ingest, "hostPort"); exp.tcpHostPort != (hp != nil) || (hp != nil && num(hp) != float64(exp.tcpPort)) {
			t.Errorf("ingest hostPort = %v, want published=%v on %d", hp, exp.tcpHostPort, exp.tcpPort)
		}
		if num(dig(eff, "ingest", "port")) != float64(exp.tcpPort) || str(dig(eff, "ingest", "host")) != "0.0.0.0" {
			t.Errorf("effective ingest %v:%v, want 0.0.0.0:%d", dig(eff, "ingest", "host"), dig(eff, "ingest", "port"), exp.tcpPort)
		}
	}
	// Unix socket: in a hostPath directory mounted at the same path as on the node.
	sock := str(dig(eff, "ingest", "socket"))
	if sock != exp.socket {
		t.Errorf("effective ingest.socket = %q, want %q", sock, exp.socket)
	}
	if exp.socket != "" {
		m, v := r.mount("ingest-socket"), r.volume("ingest-socket")
		dir := path.Dir(exp.socket)
		if str(dig(m, "mountPath")) != dir || dig(m, "readOnly") == true {
			t.Errorf("ingest-socket mount = %v, want %s writable", m, dir)
		}
		if str(dig(v, "hostPath", "path")) != dir || str(dig(v, "hostPath", "type")) != "DirectoryOrCreate" {
			t.Errorf("ingest-socket volume = %v, want hostPath %s (DirectoryOrCreate)", v, dir)
		}
	} else if r.volume("ingest-socket") != nil {
		t.Errorf("socket off but an ingest-socket volume is rendered")
	}
	// gRPC.
	grpc := str(dig(eff, "ingest", "grpc_address"))
	if exp.grpcPort == 0 {
		if grpc != "" || r.port("grpc") != nil {
			t.Errorf("gRPC should be off: effective grpc_address %q (the image's ENV sets one), port %v", grpc, r.port("grpc"))
		}
	} else {
		if grpc != fmt.Sprintf("0.0.0.0:%d", exp.grpcPort) || num(dig(r.port("grpc"), "containerPort")) != float64(exp.grpcPort) {
			t.Errorf("gRPC: effective %q, port %v, want 0.0.0.0:%d", grpc, r.port("grpc"), exp.grpcPort)
		}
	}
	// Telemetry on every interface, for the kubelet's probes and the Agent's check.
	if str(dig(eff, "telemetry", "host")) != "0.0.0.0" || num(dig(eff, "telemetry", "port")) != float64(exp.telemetryPort) {
		t.Errorf("effective telemetry %v:%v, want 0.0.0.0:%d", dig(eff, "telemetry", "host"), dig(eff, "telemetry", "port"), exp.telemetryPort)
	}
	if num(dig(r.port("telemetry"), "containerPort")) != float64(exp.telemetryPort) {
		t.Errorf("telemetry containerPort = %v, want %d", dig(r.port("telemetry"), "containerPort"), exp.telemetryPort)
	}
	// Every published port is its own container port, and no two ports clash.
	seen := map[float64]bool{}
	for _, p := range list(dig(r.Container, "ports")) {
		cp := num(dig(p, "containerPort"))
		if seen[cp] {
			t.Errorf("containerPort %v used twice", cp)
		}
		seen[cp] = true
		if hp := dig(p, "hostPort"); hp != nil && num(hp) != cp {
			t.Errorf("port %v: hostPort %v differs from containerPort %v", dig(p, "name"), hp, cp)
		}
		if str(dig(p, "protocol")) != "TCP" {
			t.Errorf("port %v: protocol %v", dig(p, "name"), dig(p, "protocol"))
		}
	}
}

func (s *Suite) checkAgent(t *T, r *Rendered, exp expectation, eff map[string]interface{}) {
	url := str(dig(eff, "agent", "url"))
	if url != exp.agentURL {
		t.Errorf("effective agent.url = %q, want %q", url, exp.agentURL)
	}
	env := r.env()
	if strings.HasPrefix(exp.agentURL, "http://"+fakeHostIP) {
		if str(dig(env["DD_AGENT_HOST"], "valueFrom", "fieldRef", "fieldPath")) != "status.hostIP" {
			t.Errorf("DD_AGENT_HOST must come from the downward API (status.hostIP): %v", env["DD_AGENT_HOST"])
		}
	}
	if env["DD_TRACE_AGENT_URL"] != nil {
		t.Errorf("DD_TRACE_AGENT_URL is set on the edge; it would override agent.url")
	}
	// The edge must never forward to itself.
	if strings.HasPrefix(url, "http://"+fakeHostIP+":") {
		p, _ := strconv.Atoi(strings.TrimPrefix(url, "http://"+fakeHostIP+":"))
		if r.hasHostPort(p) {
			t.Errorf("agent.url %s is the edge's own host port", url)
		}
	}
	if strings.HasPrefix(url, "unix://") {
		sockPath := strings.TrimPrefix(url, "unix://")
		if sockPath == str(dig(eff, "ingest", "socket")) {
			t.Errorf("agent.url %s is the edge's own socket", url)
		}
		dir := path.Dir(sockPath)
		found := false
		for _, m := range list(dig(r.Container, "volumeMounts")) {
			if str(dig(m, "mountPath")) == dir {
				v := r.volume(str(dig(m, "name")))
				if str(dig(v, "hostPath", "path")) != dir {
					t.Errorf("the Agent's socket directory %s is mounted from %v, want the same host path", dir, v)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("the Agent's socket directory %s is not mounted", dir)
		}
	}
}

func (s *Suite) checkIntake(t *T, r *Rendered, exp expectation, eff map[string]interface{}) {
	if got := str(dig(eff, "intake", "mode")); got != exp.intakeMode {
		t.Errorf("effective intake.mode = %q, want %q", got, exp.intakeMode)
	}
	env := r.env()
	if exp.intakeMode == "agentless" {
		if env["DD_API_KEY"] == nil {
			t.Errorf("agentless without DD_API_KEY")
		}
		if got := str(dig(eff, "intake", "site")); got != exp.site {
			t.Errorf("effective intake.site = %q, want %q", got, exp.site)
		}
	} else if env["DD_API_KEY"] != nil || str(dig(eff, "intake", "api_key")) != "" {
		t.Errorf("intake through the Agent needs no API key, yet one is set")
	}
}

func (s *Suite) checkLedger(t *T, r *Rendered, exp expectation, eff map[string]interface{}) {
	lp := str(dig(eff, "ledger", "path"))
	m, v := r.mount("ledger"), r.volume("ledger")
	mp := str(dig(m, "mountPath"))
	if mp == "" || !strings.HasPrefix(lp, mp+"/") || dig(m, "readOnly") == true {
		t.Errorf("effective ledger.path %q is not inside the writable ledger mount %v", lp, m)
	}
	if exp.ledgerHostPath != "" {
		if str(dig(v, "hostPath", "path")) != exp.ledgerHostPath || str(dig(v, "hostPath", "type")) != "DirectoryOrCreate" {
			t.Errorf("ledger volume = %v, want hostPath %s (DirectoryOrCreate)", v, exp.ledgerHostPath)
		}
	} else if _, ok := v["emptyDir"]; !ok {
		t.Errorf("ledger volume = %v, want an emptyDir", v)
	}
}

func (s *Suite) checkProbesAndGrace(t *T, r *Rendered, exp expectation, eff map[string]interface{}) {
	for _, p := range []struct{ key, path string }{{"livenessProbe", "/live"}, {"readinessProbe", "/ready"}} {
		g := dig(r.Container, p.key, "httpGet")
		if str(dig(g, "path")) != p.path {
			t.Errorf("%s path = %v, want %s", p.key, dig(g, "path"), p.path)
		}
		port := dig(g, "port")
		if name, ok := port.(string); ok {
			port = dig(r.port(name), "containerPort")
		}
		if num(port) != num(dig(eff, "telemetry", "port")) {
			t.Errorf("%s port = %v, want the telemetry port %v", p.key, port, dig(eff, "telemetry", "port"))
		}
		if s := str(dig(g, "host")); s != "" {
			t.Errorf("%s has host %q (the kubelet probes the pod IP)", p.key, s)
		}
	}
	grace := num(dig(r.Pod, "terminationGracePeriodSeconds"))
	if grace != float64(exp.grace) {
		t.Errorf("terminationGracePeriodSeconds = %v, want %d", grace, exp.grace)
	}
	// The edge drains in-flight requests and the intake sender within shutdown_grace_ms, then one
	// intake request may take intake.timeout_ms: Kubernetes must not SIGKILL before that.
	drain := math.Ceil(num(dig(eff, "ingest", "shutdown_grace_ms"))/1000) + math.Ceil(num(dig(eff, "intake", "timeout_ms"))/1000)
	if grace <= drain {
		t.Errorf("terminationGracePeriodSeconds %v <= drain time %v s", grace, drain)
	}
}

func (s *Suite) checkAutodiscovery(t *T, r *Rendered, eff map[string]interface{}) {
	inst := r.adInstance(t)
	want := fmt.Sprintf("http://%%%%host%%%%:%v/metrics", dig(eff, "telemetry", "port"))
	if got := str(inst["openmetrics_endpoint"]); got != want {
		t.Errorf("AD openmetrics_endpoint = %q, want %q", got, want)
	}
	if str(inst["namespace"]) != "llmobs_edge" || str(inst["raw_metric_prefix"]) != "llmobs_edge_" {
		t.Errorf("AD instance namespace/raw_metric_prefix = %v/%v", inst["namespace"], inst["raw_metric_prefix"])
	}
	if len(strs(inst["metrics"])) == 0 {
		t.Errorf("AD instance has no metrics")
	}
}

// checkChecksum: the checksum/config annotation follows the config file and nothing else.
func (s *Suite) checkChecksum(t *T) {
	sum := func(r *Rendered) string { return str(r.annotations()["checksum/config"]) }
	cm := func(r *Rendered) string { return str(dig(r.ConfigMap, "data", "config.yaml")) }
	base := s.render(t)
	for _, c := range []struct{ name, values string }{
		{"config.logging.level", "config: {logging: {level: debug}}"},
		{"ingest.tcp.port", "ingest: {tcp: {port: 9000}}"},
		{"intake.mode", "intake: {mode: agentless, apiKeySecret: {name: s}}"},
		{"agent.via", "agent: {via: socket}"},
	} {
		r := s.render(t, inline(t, c.values))
		if cm(r) == cm(base) {
			t.Errorf("%s: the config file did not change", c.name)
		}
		if sum(r) == sum(base) {
			t.Errorf("%s changes the config file but not checksum/config", c.name)
		}
	}
	for _, c := range []struct{ name, values string }{
		{"resources", "resources: {requests: {cpu: 1}}"},
		{"podAnnotations", "podAnnotations: {a: b}"},
	} {
		if r := s.render(t, inline(t, c.values)); sum(r) != sum(base) {
			t.Errorf("%s changes checksum/config although the config file is the same", c.name)
		}
	}
}

// checkNegative: a values file in testdata/ must be refused. Its "# expect-schema-error: TEXT" or
// "# expect-render-error: TEXT" line says by whom and what the message contains.
func (s *Suite) checkNegative(t *T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v", err)
	}
	var kind, want string
	for _, l := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`^#\s*expect-(schema|render)-error:\s*(.+?)\s*$`).FindStringSubmatch(l); m != nil {
			kind, want = m[1], m[2]
		}
	}
	if kind == "" {
		t.Fatalf("%s has no '# expect-schema-error:' or '# expect-render-error:' line", file)
	}
	values, err := ParseValues(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	_, err = s.chart.Render(Release{Name: releaseName, Namespace: namespace}, values)
	if err == nil {
		t.Fatalf("rendering succeeded; want a %s error containing %q", kind, want)
	}
	var se *SchemaError
	var re *RenderError
	switch {
	case kind == "schema" && !errors.As(err, &se):
		t.Errorf("want a schema error, got: %v", err)
	case kind == "render" && !errors.As(err, &re):
		t.Errorf("want a template error (the schema accepts these values), got: %v", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error does not contain %q:\n%v", want, err)
	}
}

// ---------------------------------------------------------------------------------------------
// Navigating decoded YAML.

func dig(v interface{}, keys ...string) interface{} {
	for _, k := range keys {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mapOf(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

func list(v interface{}) []interface{} {
	l, _ := v.([]interface{})
	return l
}

func str(v interface{}) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func strs(v interface{}) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, str(x))
	}
	return out
}

func num(v interface{}) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	case float64:
		return n
	case string:
		f, err := strconv.ParseFloat(n, 64)
		if err == nil {
			return f
		}
	}
	return math.NaN()
}
