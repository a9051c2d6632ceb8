// The pages' one stylesheet, served by pulsegate itself (no CDN, no web font).
// Colours: text pairs meet WCAG AA (4.5:1) in both schemes, checked by axe in
// test/status-page.test.ts; bars meet 3:1 against the page (non-text contrast).
// Rows carry their state as a class (s-ok …) so one rule colours the word and the dot.
const widths = Array.from({ length: 30 }, (_, i) => `.w${i + 1}{flex-grow:${i + 1}}`).join('')

export const STYLE = `:root{color-scheme:light dark;
--bg:#f6f8fa;--fg:#1f2328;--muted:#59636e;--card:#fff;--line:#d1d9e0;--link:#0550ae;
--ok:#116329;--ok-bg:#dafbe1;--ok-bar:#1a7f37;
--recovering:#7d4e00;--recovering-bg:#fff1c2;--recovering-bar:#b08800;
--degraded:#a40e26;--degraded-bg:#ffe2e0;--degraded-bar:#cf222e;
--starting:#424a53;--starting-bg:#e8ecf0;--starting-bar:#6e7781;--none-bar:#d1d9e0}
@media (prefers-color-scheme:dark){:root{
--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#151b23;--line:#3d444d;--link:#74b9ff;
--ok:#56d364;--ok-bg:#12301c;--ok-bar:#2ea043;
--recovering:#e3b341;--recovering-bg:#33270c;--recovering-bar:#bb8009;
--degraded:#ff8e86;--degraded-bg:#3d1417;--degraded-bar:#f85149;
--starting:#b7bdc8;--starting-bg:#262c36;--starting-bar:#768390;--none-bar:#3d444d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
a{color:var(--link)}
a:focus-visible{outline:2px solid var(--link);outline-offset:2px;border-radius:2px}
.wrap{max-width:1180px;margin:0 auto;padding:0 16px}
header.top{border-bottom:1px solid var(--line);background:var(--card)}
header.top .wrap{display:flex;align-items:center;gap:12px;min-height:52px}
.brand{font-weight:650;color:var(--fg);text-decoration:none;letter-spacing:-.01em}
main{padding:20px 0 40px}
h1{font-size:1.6rem;line-height:1.2;margin:8px 0 16px;letter-spacing:-.01em}
h2{font-size:1.15rem;margin:28px 0 10px}
.muted,.crumb{color:var(--muted)}
.crumb{margin:12px 0 0;font-size:.9rem}
.crumb a::before{content:"← " / ""}
.banner{display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;padding:16px 18px;border-radius:10px;border:1px solid var(--line);border-left:6px solid var(--bar);background:var(--card);margin-bottom:18px}
.banner strong{font-size:1.2rem}
.banner .counts{margin:0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;color:var(--muted)}
.s-ok{--c:var(--ok);--cbg:var(--ok-bg);--bar:var(--ok-bar)}
.s-recovering{--c:var(--recovering);--cbg:var(--recovering-bg);--bar:var(--recovering-bar)}
.s-degraded{--c:var(--degraded);--cbg:var(--degraded-bg);--bar:var(--degraded-bar)}
.s-starting{--c:var(--starting);--cbg:var(--starting-bg);--bar:var(--starting-bar)}
.st{display:inline-flex;align-items:center;gap:6px;padding:1px 9px 1px 7px;border-radius:999px;background:var(--cbg);color:var(--c);font-weight:600;font-size:.875rem;white-space:nowrap}
.st::before{content:"";width:8px;height:8px;border-radius:50%;background:var(--bar)}
.tag{display:inline-block;white-space:nowrap;margin-left:6px;padding:0 6px;border:1px solid var(--line);border-radius:4px;color:var(--muted);font-size:.75rem;vertical-align:1px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
table{width:100%;border-collapse:collapse}
caption{text-align:left;padding:12px 14px;font-weight:600}
th,td{padding:9px 14px;text-align:left;vertical-align:middle}
tbody th,tbody td{border-top:1px solid var(--line)}
thead th{font-size:.8rem;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
tbody th{font-weight:600;overflow-wrap:break-word}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.fleet tbody td:nth-child(n+5):nth-child(-n+7){text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.r{color:var(--muted);overflow-wrap:anywhere}
table.fleet td.r,table.fleet tbody th{width:18%}
time{white-space:nowrap}
.bars{display:flex;position:relative;height:26px;min-width:150px;width:100%;border-radius:3px;overflow:hidden}
table.fleet td:last-child{width:25%;min-width:180px}
.bars i{display:block;background:var(--bar,var(--none-bar))}
.bars::after{content:"";position:absolute;inset:0;pointer-events:none;background:repeating-linear-gradient(90deg,transparent 0 calc(100%/30 - 2px),var(--card) calc(100%/30 - 2px) calc(100%/30))}
.bars .x{--bar:var(--none-bar)}
.bars .ok{--bar:var(--ok-bar)}.bars .recovering{--bar:var(--recovering-bar)}.bars .degraded{--bar:var(--degraded-bar)}.bars .starting{--bar:var(--starting-bar)}
${widths}
.bars-wide{height:34px}
.scale{display:flex;justify-content:space-between;color:var(--muted);font-size:.8rem;margin-top:4px}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px;margin:0 0 16px}
dl.facts div{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
dl.facts dt{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
dl.facts dd{margin:2px 0 0;font-size:1.1rem;font-weight:600;font-variant-numeric:tabular-nums}
ol.events{list-style:none;margin:0;padding:0}
ol.events li{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center;padding:9px 14px;border-top:1px solid var(--line)}
ol.events li:first-child{border-top:0}
.arrow{color:var(--muted)}
details{margin-top:10px}
summary{cursor:pointer;color:var(--link)}
.live{font-size:.85rem;color:var(--muted);margin:14px 0 0}
footer{color:var(--muted);font-size:.85rem;padding:0 0 32px}
.sr{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
@media (max-width:760px){
.wrap{padding:0 12px}
table.fleet thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.fleet,table.fleet tbody{display:block}
table.fleet td:last-child,table.fleet td.r,table.fleet tbody th{width:auto;min-width:0}
.bars{min-width:0}
table.fleet tbody tr{display:grid;grid-template-columns:1fr auto auto;gap:6px 12px;align-items:center;padding:12px 14px;border-top:1px solid var(--line)}
table.fleet tbody th,table.fleet tbody td{display:block;padding:0;border:0}
table.fleet tbody tr:first-child{border-top:0}
table.fleet tbody th{grid-column:1/3;grid-row:1}
table.fleet tbody td:nth-child(2){grid-column:3;grid-row:1;justify-self:end}
table.fleet tbody td:nth-child(3){grid-column:1/-1;grid-row:2}
table.fleet tbody td:nth-child(3):empty{display:none}
table.fleet tbody td:nth-child(8){grid-column:1/-1;grid-row:3}
table.fleet tbody td:nth-child(n+4){font-size:.85rem;color:var(--muted)}
table.fleet tbody td:nth-child(4){grid-row:4;grid-column:1}
table.fleet tbody td:nth-child(5){grid-row:4;grid-column:2}
table.fleet tbody td:nth-child(6){display:none}
table.fleet tbody td:nth-child(7){grid-row:4;grid-column:3}
table.fleet tbody td:nth-child(5)::before{content:"24 h "}
table.fleet tbody td:nth-child(7)::before{content:"30 d "}
table.details thead{display:none}
table.details tbody tr{display:block;padding:10px 14px;border-top:1px solid var(--line)}
table.details tbody th,table.details tbody td{display:block;padding:2px 0;border:0;text-align:left}
table.details tbody td[data-l]::before{content:attr(data-l) ": ";color:var(--muted)}
table.details tbody td.r:empty{display:none}
}
`
