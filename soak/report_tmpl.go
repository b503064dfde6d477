package soak

// reportHTML is the report page; it embeds its CSS and the plots' SVG, so
// the file can be mailed or archived as it is.
const reportHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>lockd soak {{.Profile.Name}} seed {{.Profile.Seed}}: {{if .Passed}}PASS{{else}}FAIL{{end}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1140px;color:#222;padding:0 12px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px} h3{font-size:15px;margin:18px 0 6px}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0 14px;font-size:16px}
.banner.pass{background:#e6f4ea;color:#137333;border:1px solid #a8dab5} .banner.fail{background:#fce8e6;color:#a50e0e;border:1px solid #f4b4ae}
table{border-collapse:collapse;margin:6px 0 12px;width:100%} th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f6f6f6;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.pass{color:#137333;font-weight:600} td.fail{color:#a50e0e;font-weight:700} td.skip{color:#888} td.warn{color:#b06000;font-weight:700}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace} pre{background:#f6f6f6;padding:8px;overflow-x:auto;margin:4px 0}
.meta{color:#555} .fail-box{border-left:4px solid #d93025;padding:4px 10px;margin:8px 0;background:#fff8f7} .fail-box.warn{border-color:#e37400;background:#fff8e1}
svg{display:block;margin:8px 0;background:#fff} svg .title{font-size:13px;font-weight:600;fill:#333}
svg .tick{font-size:11px;fill:#555} svg .grid{stroke:#eee} svg .frame{fill:none;stroke:#bbb}
svg .p99{fill:none;stroke-width:1.8} svg .p50{fill:none;stroke-width:1.1;stroke-dasharray:4 3;opacity:.8}
svg .band{opacity:.16} svg .flabel{font-size:10px;font-weight:600} svg .end{stroke:#333;stroke-dasharray:6 4}
</style></head><body>
<h1>lockd soak report</h1>
<div class="meta">profile <b>{{.Profile.Name}}</b> · seed <b>{{.Profile.Seed}}</b> · run {{.RunID}} · started {{.Started.Format "2006-01-02 15:04:05 MST"}} · {{round .Elapsed}}</div>
{{if .Passed}}<div class="banner pass">PASS: every invariant held under the injected faults.</div>
{{else}}<div class="banner fail">FAIL: an invariant was broken or could not be established. Seed {{.Profile.Seed}}; replay with <code>{{.Replay}}</code></div>{{end}}
<p class="meta">Replay: <code>{{.Replay}}</code> · workers {{.Profile.Workers}}, consumers {{.Profile.Consumers}}, {{.Profile.Keys}} counter keys, {{.Profile.HotKeys}} hot, {{.Profile.TxnGroups}}×{{.Profile.TxnKeys}} txn keys, payload {{.Profile.PayloadBytes}} B, lease TTL {{.Profile.TTL}}, mix {{.Profile.Mix}}</p>

<h2>Invariants</h2>
<table><tr><th>phase</th><th>check</th><th>verdict</th><th class="num">checked</th><th>what it proves</th><th>result</th></tr>
{{range $ph := .Phases}}{{range .Verdicts}}<tr><td>{{$ph.Name}}</td><td><b>{{.Check}}</b></td><td class="{{cls .Status}}">{{.Status}}</td><td class="num">{{.Checked}}</td><td>{{.Invariant}}</td><td>{{.Summary}}</td></tr>
{{end}}{{end}}</table>
{{range $ph := .Phases}}{{range $v := .Verdicts}}{{range .Failures}}<div class="fail-box {{cls $v.Status}}"><b>{{$ph.Name}} · {{$v.Check}} {{if eq $v.Status "warn"}}finding{{else}}violated{{end}}{{with .Key}} on {{.}}{{end}}</b>: {{.Message}}
{{if .History}}<pre>{{range .History}}{{describe .}}
{{end}}</pre>{{end}}{{if .Visualization}}<div>porcupine visualization: <a href="{{.Visualization}}">{{.Visualization}}</a></div>{{end}}</div>
{{end}}{{end}}{{end}}

{{range .Phases}}
<h2 id="phase-{{.Name}}">Phase {{.Name}} <span class="meta">(store {{.Store}}, {{span .}} of traffic, {{.Ops}} operations)</span></h2>
{{if .Err}}<div class="fail-box">phase error: {{.Err}}</div>{{end}}
{{latplot .}}
{{tputplot .}}
<h3>Operations</h3>
<table><tr><th>operation</th><th class="num">ops</th><th class="num">ok</th><th class="num">errors</th><th class="num">unknown</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th><th>error codes</th></tr>
{{range .Stats}}<tr><td>{{.Kind}}</td><td class="num">{{.Ops}}</td><td class="num">{{.OK}}</td><td class="num">{{.Errors}}</td><td class="num">{{.Unknown}}</td><td class="num">{{lat .P50}}</td><td class="num">{{lat .P99}}</td><td class="num">{{lat .Max}}</td><td><code>{{codes .Codes}}</code></td></tr>
{{end}}</table>
<h3>Faults ({{len .Faults}}){{with .Proxy}} <span class="meta">proxy: {{.Conns}} connections, {{.Dropped}} dropped, {{.Resets}} reset</span>{{end}}</h3>
<table><tr><th>from</th><th>to</th><th>fault</th><th>what happened</th></tr>
{{range .Faults}}<tr><td class="num">{{dur .Start}}</td><td class="num">{{dur .End}}</td><td>{{label .}}</td><td>{{.Detail}}{{if .Err}} <b>error:</b> <code>{{.Err}}</code>{{end}}</td></tr>
{{end}}</table>
{{end}}
<h2>Notes</h2><ul>{{range .Notes}}<li>{{.}}</li>{{end}}
<li>Outcomes: <b>error</b> is a definite refusal (4xx, no effect); <b>unknown</b> is a timeout, a transport error or a 5xx: the checkers let such an operation take effect or not.</li>
<li>Files: <code>report.json</code> (this report), <code>history.jsonl</code> (every operation), <code>lockd-*.log</code> (server logs).</li></ul>
</body></html>
`
