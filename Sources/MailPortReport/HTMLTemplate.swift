/// The HTML report's template (Mustache: `{{name}}` is HTML-escaped; this template never uses the unescaped
/// `{{{name}}}` form, so every value, including server text, is inert). Self-contained: inline CSS and script, a
/// Content-Security-Policy that forbids any fetch, charts as inline SVG.
enum HTMLTemplate {
    static let page = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="MailPort {{toolVersion}}">
        <title>MailPort audit {{startedAt}}: grade {{grade}}</title>
        <style>
        :root { --fg:#1d2430; --muted:#5b6576; --line:#d9dee7; --bg:#fff; --soft:#f4f6f9;
          --critical:#8b1a1a; --high:#c0392b; --medium:#d68910; --low:#2874a6; --info:#5d6d7e; --good:#1e8449; }
        * { box-sizing: border-box; }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 1200px; padding: 24px; }
        h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.25em; margin: 32px 0 12px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
        h3 { font-size: 1.1em; margin: 0 0 8px; }
        .meta, .muted { color: var(--muted); font-size: .92em; }
        .overview { display: grid; grid-template-columns: 160px 1fr 1fr 1fr; gap: 20px; align-items: start; }
        .grade-box { text-align: center; border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
        .grade-box .grade { font-size: 3.2em; font-weight: 700; line-height: 1; }
        .verdict { font-weight: 600; margin-top: 8px; } .verdict.fail { color: var(--high); } .verdict.pass { color: var(--good); } .verdict.ungated { color: var(--muted); }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: var(--soft); font-weight: 600; }
        #hosts th { cursor: pointer; user-select: none; white-space: nowrap; }
        #hosts th[aria-sort=ascending]::after { content: " \25B2"; } #hosts th[aria-sort=descending]::after { content: " \25BC"; }
        .incomplete { color: var(--high); font-weight: 600; font-size: 0.85em; }
        .badge { display: inline-block; min-width: 2.2em; text-align: center; border-radius: 4px; padding: 0 6px; font-weight: 700; color: #fff; background: var(--info); }
        .g-Aplus, .g-A { background: var(--good); } .g-Aminus { background: #52a36b; } .g-B { background: var(--medium); } .g-C { background: var(--high); } .g-F { background: var(--critical); }
        .sev { font-weight: 700; text-transform: uppercase; font-size: .8em; padding: 1px 6px; border-radius: 4px; color: #fff; }
        .sev-critical { background: var(--critical); } .sev-high { background: var(--high); } .sev-medium { background: var(--medium); } .sev-low { background: var(--low); } .sev-info { background: var(--info); }
        .bar-critical { fill: var(--critical); } .bar-high { fill: var(--high); } .bar-medium { fill: var(--medium); } .bar-low { fill: var(--low); } .bar-info { fill: var(--info); } .bar-port { fill: #34495e; }
        svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
        figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 6px; }
        #filter { width: 320px; max-width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
        .toolbar { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
        details.host { border: 1px solid var(--line); border-radius: 10px; padding: 10px 16px; margin: 12px 0; content-visibility: auto; contain-intrinsic-size: auto 3em; }
        details.host > summary { cursor: pointer; } details.host > summary h3 { display: inline; margin: 0; }
        details.endpoint { border-top: 1px solid var(--line); padding: 8px 0; }
        details.endpoint > summary { cursor: pointer; font-weight: 600; }
        details.fix { border-top: 1px solid var(--line); padding: 6px 0; } details.fix > summary { cursor: pointer; }
        dl.facts { display: grid; grid-template-columns: 190px 1fr; gap: 2px 12px; margin: 8px 0; }
        dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        ul.findings { list-style: none; padding: 0; margin: 8px 0; }
        ul.findings > li { border-left: 4px solid var(--line); padding: 6px 10px; margin: 6px 0; background: var(--soft); }
        ul.findings > li.waived { opacity: .7; }
        .evidence { margin: 4px 0; overflow-wrap: anywhere; }
        .tag-new { font-size: .75em; font-weight: 700; border: 1px solid var(--high); color: var(--high); border-radius: 4px; padding: 0 4px; }
        pre.transcript { background: #1f2430; color: #e6e6e6; padding: 8px 10px; border-radius: 6px; overflow-x: auto; font-size: .85em; white-space: pre-wrap; overflow-wrap: anywhere; }
        code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .92em; }
        @media (max-width: 900px) { .overview { grid-template-columns: 1fr; } }
        @media print {
          body { max-width: none; padding: 0; font-size: 11pt; } .toolbar { display: none; }
          details.host { content-visibility: visible; } details.host, details.endpoint, ul.findings > li { break-inside: avoid; }
          pre.transcript { background: none; color: #000; border: 1px solid #999; }
          a { color: inherit; text-decoration: none; }
        }
        </style>
        </head>
        <body>
        <header>
        <h1>MailPort audit</h1>
        <p class="meta">Scan {{startedAt}} to {{finishedAt}} ({{duration}}) of <code>{{targets}}</code>; profile <code>{{profile}}</code>; mode {{mode}}; MailPort {{toolVersion}}.
        {{^complete}}<strong>Incomplete: {{incompleteReason}}</strong>{{/complete}}</p>
        </header>

        <section id="overview" class="overview" aria-label="Overview">
        <div class="grade-box">
        <div class="muted">Overall grade</div>
        <div class="grade" id="overall-grade">{{grade}}</div>
        <div class="verdict {{verdictClass}}">{{verdict}}</div>
        </div>
        <div>
        <table class="counts" id="severity-counts">
        <thead><tr><th>Severity</th><th>Findings</th></tr></thead>
        <tbody>
        {{#severityCounts}}<tr><td><span class="sev sev-{{name}}">{{name}}</span></td><td>{{count}}</td></tr>
        {{/severityCounts}}{{#waived}}<tr><td>waived</td><td>{{waived}}</td></tr>{{/waived}}
        </tbody>
        </table>
        <p class="muted">{{addressCount}} addresses scanned, {{hostsUp}} answered, {{hostCount}} with open ports, {{openEndpoints}} open endpoints.</p>
        {{#hasTargetErrors}}<p id="target-errors"><span class="incomplete">Not scanned:</span> {{#targetErrors}}<code>{{target}}</code> <span class="muted">({{error}})</span> {{/targetErrors}}</p>
        {{/hasTargetErrors}}{{#incompleteSummary}}<p id="incomplete-summary"><span class="incomplete">{{incompleteSummary}}</span> <span class="muted">(facts missing; grades rest on what could be asked): see</span> {{#incompleteEndpoints}}<a href="#{{anchor}}">{{location}}</a> {{/incompleteEndpoints}}{{#incompleteUnlisted}}<span class="muted">{{incompleteUnlisted}}</span>{{/incompleteUnlisted}}</p>{{/incompleteSummary}}
        </div>
        <figure id="chart-ports">
        <figcaption>Open ports by service</figcaption>
        {{#portChart}}{{> chart}}{{/portChart}}
        </figure>
        <figure id="chart-severity">
        <figcaption>Findings by severity</figcaption>
        {{#severityChart}}{{> chart}}{{/severityChart}}
        </figure>
        </section>

        {{#hasRollup}}<section id="rules-section">
        <h2>Findings by rule</h2>
        <p class="muted">Each rule once, worst first: what to fix, and how far it reaches. Waived findings are not counted.</p>
        <table id="rule-rollup">
        <thead><tr><th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Finding</th><th scope="col">Where</th></tr></thead>
        <tbody>
        {{#rollup}}<tr data-rule="{{rule}}" data-spread="{{spread}}"><td><span class="sev sev-{{severity}}">{{severity}}</span></td><td>{{#fixAnchor}}<a href="#{{fixAnchor}}"><code>{{rule}}</code></a>{{/fixAnchor}}{{^fixAnchor}}<code>{{rule}}</code>{{/fixAnchor}}</td><td>{{title}}</td><td>{{reach}}</td></tr>
        {{/rollup}}
        </tbody>
        </table>
        </section>{{/hasRollup}}

        {{#hasFixes}}<section id="fixes-section">
        <h2>How to fix</h2>
        <p class="muted">Each rule that found something, once; every finding links here.</p>
        {{#fixes}}<details class="fix" id="{{anchor}}"><summary><code>{{rule}}</code> {{title}}</summary><dl class="facts">{{#remediation}}<dt>{{server}}</dt><dd>{{text}}</dd>{{/remediation}}</dl>{{#references}}<p class="muted">References: {{references}}</p>{{/references}}</details>
        {{/fixes}}
        </section>{{/hasFixes}}

        {{#hasDomains}}<section id="domains-section">
        <h2>Domains</h2>
        {{#domains}}<article class="domain" id="{{anchor}}" data-domain="{{name}}">
        <h3>{{name}} <span class="badge g-{{gradeClass}}">{{grade}}</span> <span class="muted">{{status}}</span></h3>
        <dl class="facts">
        <dt>MX</dt><dd>{{#nullMX}}null MX (accepts no mail){{/nullMX}}{{^mx}}{{^nullMX}}none{{/nullMX}}{{/mx}}{{#mx}}<div>{{preference}} <code>{{exchange}}</code>{{#note}} <span class="muted">{{note}}</span>{{/note}} → {{addresses}}</div>{{/mx}}</dd>
        <dt>SRV</dt><dd>{{^srv}}none{{/srv}}{{#srv}}<div><code>_{{service}}._tcp</code> {{priority}} {{weight}} {{port}} <code>{{target}}</code> → {{addresses}}</div>{{/srv}}</dd>
        {{#hasNames}}<dt>Host names</dt><dd>{{#names}}<div><code>{{name}}</code> → {{addresses}}</div>{{/names}}</dd>{{/hasNames}}
        {{#mtaSTS}}<dt>MTA-STS</dt><dd class="policy" data-policy="mta-sts">{{mtaSTS}}</dd>{{/mtaSTS}}
        {{#tlsRPT}}<dt>TLS-RPT</dt><dd class="policy" data-policy="tls-rpt">{{tlsRPT}}</dd>{{/tlsRPT}}
        {{#dane}}<dt>DANE</dt><dd class="policy" data-policy="dane">{{dane}}</dd>{{/dane}}
        {{#hasFailedLookups}}<dt>Failed lookups</dt><dd>{{#failedLookups}}<div>{{type}} <code>{{name}}</code>: {{outcome}}</div>{{/failedLookups}}</dd>{{/hasFailedLookups}}
        <dt>Hosts</dt><dd>{{^hostLinks}}none found{{/hostLinks}}{{#hostLinks}}<div>{{#anchor}}<a href="#{{anchor}}">{{address}}</a> <span class="badge g-{{gradeClass}}">{{grade}}</span>{{/anchor}}{{^anchor}}{{address}} <span class="muted">no open port</span>{{/anchor}}</div>{{/hostLinks}}</dd>
        </dl>
        {{{findings}}}</article>
        {{/domains}}
        </section>{{/hasDomains}}

        <section id="hosts-section">
        <h2>Hosts</h2>
        <p class="muted">Worst first: by grade, then worst finding, then address. Click a column to sort.</p>
        <div class="toolbar">
        <input id="filter" type="search" placeholder="Filter by address, name, grade, port or rule" aria-label="Filter hosts">
        <span id="shown" class="muted" aria-live="polite"></span>
        {{#hasHeldHosts}}<button id="show-all" type="button">Show all hosts</button>{{/hasHeldHosts}}
        </div>
        {{#hasHeldHosts}}<noscript><p class="muted" id="held-noscript">This table lists the {{liveHosts}} worst hosts; the other {{heldHosts}} are shown by the page's script, which this browser does not run. The JSON report of this run lists every host.</p></noscript>{{/hasHeldHosts}}
        <table id="hosts">
        <thead><tr>
        <th data-type="text" scope="col">Host</th>
        <th data-type="number" scope="col">Grade</th>
        <th data-type="number" scope="col">Open ports</th>
        <th data-type="number" scope="col">Findings</th>
        <th data-type="number" scope="col">Worst</th>
        <th data-type="text" scope="col">Rules</th>
        </tr></thead>
        <tbody>
        {{! host rows }}
        </tbody>
        </table>
        {{^hosts}}<p>No host had an open port.</p>{{/hosts}}
        </section>

        <section id="details">
        <h2>Host details</h2>
        <p class="muted">Worst first, as in the table; each host opens on its own (a link from the table opens it).{{#hasHeldHosts}} The {{heldHosts}} hosts after the first {{liveHosts}} are added when a link leads to one of them, or with "Show all hosts".{{/hasHeldHosts}}</p>
        <noscript><p class="muted" id="details-noscript">A host's details are built by the page's script when it is opened, and this browser does not run it: the JSON report of this run holds every fact.</p></noscript>
        {{! host details }}
        {{#baseline}}<h2>Compared with an earlier scan</h2>
        <p id="baseline-summary">Baseline <code>{{file}}</code> ({{startedAt}}): {{newFindings}} new, {{unchangedFindings}} unchanged, {{resolvedCount}} resolved.</p>
        {{#hasResolved}}<table id="resolved"><thead><tr><th>Endpoint</th><th>Severity</th><th>Rule</th><th>Finding</th></tr></thead><tbody>
        {{#resolved}}<tr><td>{{location}}</td><td><span class="sev sev-{{severity}}">{{severity}}</span></td><td><code>{{rule}}</code></td><td>{{title}}</td></tr>
        {{/resolved}}</tbody></table>{{/hasResolved}}{{/baseline}}
        {{#hasWaivers}}<h2>Waivers</h2>
        <table id="waivers"><thead><tr><th>Host</th><th>Port</th><th>Rule</th><th>Reason</th><th>Expires</th><th>Status</th><th>Matched</th></tr></thead><tbody>
        {{#waiverList}}<tr><td>{{host}}</td><td>{{port}}</td><td><code>{{rule}}</code></td><td>{{reason}}</td><td>{{expires}}</td><td>{{status}}</td><td>{{matched}}</td></tr>
        {{/waiverList}}</tbody></table>{{/hasWaivers}}
        </section>
        <footer class="muted"><p>Generated by MailPort {{toolVersion}}. Text from servers is shown as sent (escaped; control characters as \u{…}).</p></footer>
        <script>
        (function () {
          'use strict';
          var table = document.getElementById('hosts');
          var filter = document.getElementById('filter');
          var shown = document.getElementById('shown');
          var body = table.tBodies[0];
          var heads = table.tHead.rows[0].cells;
          var showAll = document.getElementById('show-all');
          var total = body.rows.length + {{heldHosts}};
          // A large report holds the rows and details of all but its worst hosts as inert text: the browser only
          // scans past it. Building it is left until it is needed (the end tags of held details' own inert scripts are escaped).
          function build(held) {
            held.insertAdjacentHTML('afterend', held.textContent.split('<\\/script>').join('<\/script>'));
            held.remove();
          }
          function heldBlocks(kind) { return document.querySelectorAll('script[type="text/x-mailport-' + kind + '"]'); }
          function allRows() { Array.prototype.forEach.call(heldBlocks('rows'), build); }
          function everything() {
            allRows();
            Array.prototype.forEach.call(heldBlocks('hosts'), build);
            if (showAll) { showAll.hidden = true; }
            update();
          }
          function update() {
            var query = filter.value.trim().toLowerCase();
            if (query !== '') { allRows(); }
            var count = 0;
            Array.prototype.forEach.call(body.rows, function (row) {
              var match = query === '' || row.textContent.toLowerCase().indexOf(query) !== -1;
              row.hidden = !match;
              if (match) { count += 1; }
            });
            shown.textContent = count + ' of ' + total + ' hosts' + (count < total && query === '' ? ' (the worst; filter, sort or show all for the rest)' : '');
          }
          function sortBy(index) {
            allRows();
            var head = heads[index];
            var ascending = head.getAttribute('aria-sort') !== 'ascending';
            Array.prototype.forEach.call(heads, function (other) { other.removeAttribute('aria-sort'); });
            head.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
            var numeric = head.getAttribute('data-type') === 'number';
            var rows = Array.prototype.slice.call(body.rows);
            rows.sort(function (a, b) {
              var x = a.cells[index].getAttribute('data-value');
              var y = b.cells[index].getAttribute('data-value');
              var order = numeric ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : (x > y ? 1 : 0));
              return ascending ? order : -order;
            });
            rows.forEach(function (row) { body.appendChild(row); });
          }
          Array.prototype.forEach.call(heads, function (head, index) {
            head.tabIndex = 0;
            head.addEventListener('click', function () { sortBy(index); });
            head.addEventListener('keydown', function (event) {
              if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); sortBy(index); }
            });
          });
          filter.addEventListener('input', update);
          if (showAll) { showAll.addEventListener('click', everything); }
          // A host's details are markup inside an inert script element (escaped like the rest of the page, never
          // run): the browser only scans past them, and builds them when the host is opened.
          function inflate(host) {
            var held = host.querySelector(':scope > script[type="text/x-mailport-host"]');
            if (held) { held.insertAdjacentHTML('afterend', held.textContent); held.remove(); }
          }
          document.addEventListener('toggle', function (event) {
            if (event.target.open && event.target.classList.contains('host')) { inflate(event.target); }
          }, true);
          // Following a link to a host (or opening the page at one) opens it.
          function find(id) {
            var found = document.getElementById(id);
            if (found) { return found; }
            // A held host: build the block of details that holds it.
            var mark = 'id="' + id + '"';
            var blocks = heldBlocks('hosts');
            for (var i = 0; i < blocks.length; i++) {
              if (blocks[i].textContent.indexOf(mark) !== -1) { build(blocks[i]); return document.getElementById(id); }
            }
            return null;
          }
          function reveal() {
            var target = location.hash.length > 1 ? find(decodeURIComponent(location.hash.slice(1))) : null;
            if (target && target.tagName === 'DETAILS') {
              if (target.classList.contains('host')) { inflate(target); }
              target.open = true;
              target.scrollIntoView();
            }
          }
          window.addEventListener('hashchange', reveal);
          reveal();
          // Printing shows everything: open every collapsed section first.
          window.addEventListener('beforeprint', function () {
            everything();
            Array.prototype.forEach.call(document.querySelectorAll('details.host'), inflate);
            Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
          });
          update();
        })();
        </script>
        </body>
        </html>
        """#

    /// Where the hosts' table rows and details go: written between the page's parts, host by host, by
    /// `HTMLReportWriter.hostMarkup` (a Mustache comment, so the page renders nothing there).
    static let rowsMarker = "{{! host rows }}\n"
    static let detailsMarker = "{{! host details }}\n"

    /// A horizontal bar chart; every number in it is computed by the writer, every label escaped.
    static let chart = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{width}} {{height}}" width="{{width}}" height="{{height}}" role="img" aria-label="{{title}}">
        <title>{{title}}</title>
        {{#bars}}<text x="0" y="{{textY}}">{{label}}</text><rect x="{{barX}}" y="{{barY}}" width="{{barWidth}}" height="{{barHeight}}" class="{{barClass}}"><title>{{label}}: {{value}}</title></rect><text x="{{valueX}}" y="{{textY}}">{{value}}</text>
        {{/bars}}</svg>
        """#
}

extension HTMLTemplate {
    /// `index.html`: past runs and the trend of findings by severity.
    static let index = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>MailPort reports: {{runCount}} runs</title>
        <style>
        body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; margin: 0 auto; max-width: 1200px; padding: 24px; }
        table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #d9dee7; }
        th { background: #f4f6f9; } .muted { color: #5b6576; }
        .bar-critical { fill: #8b1a1a; } .bar-high { fill: #c0392b; } .bar-medium { fill: #d68910; } .bar-low { fill: #2874a6; } .bar-info { fill: #5d6d7e; }
        svg text { font: 11px system-ui, sans-serif; fill: #5b6576; }
        .legend span { display: inline-block; margin-right: 12px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
        </style>
        </head>
        <body>
        <h1>MailPort reports</h1>
        <p class="muted">{{runCount}} runs with a JSON report in this folder, newest first.</p>
        <figure id="trend">
        <figcaption>Findings by severity, oldest run on the left</figcaption>
        {{#chart}}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{width}} {{height}}" width="{{width}}" height="{{height}}" role="img" aria-label="Findings by severity per run">
        <text x="0" y="12">{{maximum}}</text><text x="0" y="{{baseY}}">0</text>
        {{#bars}}<rect x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}" class="{{class}}"><title>{{label}}</title></rect>
        {{/bars}}</svg>{{/chart}}
        <p class="legend"><span><i style="background:#8b1a1a"></i>critical</span><span><i style="background:#c0392b"></i>high</span><span><i style="background:#d68910"></i>medium</span><span><i style="background:#2874a6"></i>low</span><span><i style="background:#5d6d7e"></i>info</span></p>
        </figure>
        <table id="runs">
        <thead><tr><th>Started (UTC)</th><th>Targets</th><th>Profile</th><th>Grade</th>{{#severities}}<th>{{.}}</th>{{/severities}}<th>Open</th><th>Verdict</th><th>Reports</th></tr></thead>
        <tbody>
        {{#runs}}<tr><td>{{startedAt}}{{^complete}} (incomplete){{/complete}}</td><td><code>{{targets}}</code></td><td>{{profile}}</td><td>{{grade}}</td>{{#counts}}<td>{{count}}</td>{{/counts}}<td>{{open}}</td><td>{{verdict}}</td><td>{{#html}}<a href="{{html}}">html</a> {{/html}}<a href="{{json}}">json</a></td></tr>
        {{/runs}}</tbody>
        </table>
        {{^hasRuns}}<p>No runs yet.</p>{{/hasRuns}}
        </body>
        </html>
        """#
}
