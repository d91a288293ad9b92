/**
 * Runs the generated templates through Go's own text/template with the sprig functions, the engine and function set
 * of Promtail's and Alloy's `template` stage, with the stage's rules reproduced: every extracted value is turned
 * into a string (numbers without a trailing ".0"), `.Value` is the source key's value, and an empty result deletes
 * the key (so no `level` label, no `time_ms`).
 *
 * Needs Go and sprig from Debian (`apt-get install golang-go golang-github-masterminds-sprig-dev`); without them the
 * test is skipped and says so.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { epochMillis, levelTemplate, normalizeLevel, timeMsTemplate } from "../components/log-pipeline";

/** Debian installs Go libraries here, for GOPATH-mode builds. */
const GOPATH = "/usr/share/gocode";
const hasGo = spawnSync("go", ["version"], { stdio: "ignore" }).status === 0 &&
  existsSync(join(GOPATH, "src/github.com/Masterminds/sprig"));

const STAGE = String.raw`package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
)

// Same conversion as the shippers' getString for JSON-decoded values.
func getString(v interface{}) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

// One template stage: string view of the extracted map, .Value from the source, empty result deletes the key.
func stage(tpl *template.Template, source string, extracted map[string]interface{}) {
	td := map[string]interface{}{}
	for k, v := range extracted {
		if s, ok := getString(v); ok {
			td[k] = s
			if k == source {
				td["Value"] = s
			}
		}
	}
	buf := &bytes.Buffer{}
	if err := tpl.Execute(buf, td); err != nil {
		fmt.Println("!error " + err.Error())
		os.Exit(1)
	}
	if buf.Len() == 0 {
		delete(extracted, source)
	} else {
		extracted[source] = buf.String()
	}
}

func load(path string) *template.Template {
	src, _ := os.ReadFile(path)
	funcs := sprig.TxtFuncMap()
	funcs["ToLower"] = strings.ToLower
	funcs["TrimSpace"] = strings.TrimSpace
	return template.Must(template.New(path).Funcs(funcs).Parse(string(src)))
}

func main() {
	level, timeMs := load("level.tmpl"), load("time.tmpl")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var line map[string]interface{}
		if err := json.Unmarshal(in.Bytes(), &line); err != nil {
			fmt.Println("!bad input")
			continue
		}
		extracted := map[string]interface{}{}
		for _, k := range []string{"level", "time"} {
			if v, ok := line[k]; ok {
				extracted[k] = v
			}
		}
		stage(level, "level", extracted)
		stage(timeMs, "time_ms", extracted)
		l, _ := extracted["level"].(string)
		t, _ := extracted["time_ms"].(string)
		fmt.Println(l + "|" + t)
	}
}
`;

describe.skipIf(!hasGo)("shipper templates under Go's text/template and sprig", () => {
  const dir = mkdtempSync(join(tmpdir(), "level-template-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("labels and timestamps every line exactly as normalizeLevel and epochMillis say", () => {
    writeFileSync(join(dir, "main.go"), STAGE);
    writeFileSync(join(dir, "level.tmpl"), levelTemplate());
    writeFileSync(join(dir, "time.tmpl"), timeMsTemplate());
    const lines: Array<{ level?: unknown; time?: unknown; msg?: string }> = [
      { level: 10 }, { level: 20 }, { level: 30, time: 1767225600123, msg: "request done" }, { level: 40 }, { level: 50 },
      { level: 60 }, { level: "info", time: "2026-01-01T00:00:00.123Z" }, { level: "Information", time: "2026-01-01T01:00:00+01:00" },
      { level: "WARNING", time: "2026-01-01T00:00:00Z" }, { level: " error " }, { level: "crit" }, { level: 35 },
      { level: "verbose", time: "2026-01-01 00:00:00" }, { msg: "no level", time: "soon" }, { level: true, time: 176722560012 },
      { level: 30.5, time: "2026-13-01T00:00:00Z" },
    ];
    const out = execFileSync("go", ["run", "main.go"], {
      cwd: dir, input: lines.map((l) => JSON.stringify(l)).join("\n") + "\n", encoding: "utf8",
      env: { ...process.env, GOPATH, GOCACHE: join(dir, ".cache"), GO111MODULE: "off" },
    }).split("\n").slice(0, lines.length);
    expect(out).toEqual(lines.map((l) => `${normalizeLevel(l.level) ?? ""}|${epochMillis(l.time) ?? ""}`));
    expect(out.slice(0, 6).map((o) => o.split("|")[0])).toEqual(["trace", "debug", "info", "warn", "error", "fatal"]);
    expect(out[6]).toBe("info|1767225600123");
  }, 120_000);
});

describe.skipIf(hasGo)("shipper templates under Go's text/template and sprig (skipped)", () => {
  it.skip("needs Go and sprig: apt-get install golang-go golang-github-masterminds-sprig-dev", () => {});
});
