/**
 * Runs the generated level template through Go's own text/template, the engine Promtail's and Alloy's `template`
 * stage uses, with the stage's rules reproduced: every extracted value is turned into a string (numbers without a
 * trailing ".0"), `.Value` is the source key's value, and an empty result deletes the key (so no `level` label).
 *
 * Needs a Go toolchain (`apt-get install golang-go`); without one the test is skipped and says so.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { levelTemplate, normalizeLevel } from "../components/log-pipeline";

const hasGo = spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;

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

func main() {
	src, _ := os.ReadFile(os.Args[1])
	funcs := template.FuncMap{"ToLower": strings.ToLower, "TrimSpace": strings.TrimSpace}
	tpl := template.Must(template.New("level").Funcs(funcs).Parse(string(src)))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var line map[string]interface{}
		if err := json.Unmarshal(in.Bytes(), &line); err != nil {
			fmt.Println("!bad input")
			continue
		}
		td := map[string]interface{}{}
		if v, ok := line["level"]; ok {
			if s, ok := getString(v); ok {
				td["level"] = s
				td["Value"] = s
			}
		}
		buf := &bytes.Buffer{}
		if err := tpl.Execute(buf, td); err != nil {
			fmt.Println("!error " + err.Error())
			continue
		}
		fmt.Println(buf.String())
	}
}
`;

describe.skipIf(!hasGo)("level template under Go's text/template", () => {
  const dir = mkdtempSync(join(tmpdir(), "level-template-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("labels every line exactly as normalizeLevel says, and unknown levels not at all", () => {
    writeFileSync(join(dir, "main.go"), STAGE);
    writeFileSync(join(dir, "level.tmpl"), levelTemplate());
    const lines = [
      { level: 10 }, { level: 20 }, { level: 30, msg: "request done", request_id: "r-1" }, { level: 40 }, { level: 50 },
      { level: 60 }, { level: "info" }, { level: "Information" }, { level: "WARNING" }, { level: " error " },
      { level: "crit" }, { level: 35 }, { level: "verbose" }, { msg: "no level" }, { level: true }, { level: 30.5 },
    ];
    const out = execFileSync("go", ["run", "main.go", "level.tmpl"], {
      cwd: dir, input: lines.map((l) => JSON.stringify(l)).join("\n") + "\n", encoding: "utf8",
      env: { ...process.env, GOCACHE: join(dir, ".cache"), GO111MODULE: "off" },
    }).split("\n").slice(0, lines.length);
    expect(out).toEqual(lines.map((l) => normalizeLevel(l.level) ?? ""));
    expect(out.slice(0, 6)).toEqual(["trace", "debug", "info", "warn", "error", "fatal"]);
  }, 120_000);
});

describe.skipIf(hasGo)("level template under Go's text/template (skipped)", () => {
  it.skip("needs a Go toolchain on PATH: apt-get install golang-go", () => {});
});
