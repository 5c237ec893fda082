# The statistics of scripts/laser_study.sh: reads lines
#   trainer <TAB> attention <TAB> seed <TAB> metric value <TAB> wall seconds
# (attention "laser" or "softmax"; one line per finished run) and prints one
# Markdown table row per trainer, in the order of the variable `order`
# ("gpt mlm vit speech"):
#   | setting | metric | softmax | LASER | LASER − softmax | t (df) | p | runs | wall time | verdict |
# with mean ± standard deviation over the seeds (n − 1), the paired difference
# over the seeds both attentions finished, a paired t-test (two-sided p from
# Student's t distribution) and the mean wall time per run. Variables:
#   order      the trainers, in row order
#   names      "trainer=label;..." the setting's label (default: the trainer)
#   metrics    "trainer=metric name:lower|higher:percent|plain;..."
#   missing    "trainer=why;..." rows to print as not run (no lines needed)
# Usage: awk -F'\t' -v order=... -v metrics=... -f study_stats.awk runs.tsv

function parse_map(text, map,   n, parts, i, eq) {
  n = split(text, parts, ";")
  for (i = 1; i <= n; i++) {
    eq = index(parts[i], "=")
    if (eq > 0) map[substr(parts[i], 1, eq - 1)] = substr(parts[i], eq + 1)
  }
}

# ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 digits).
function log_gamma(x,   c, i, sum, t) {
  if (x < 0.5) return log(3.141592653589793 / sin(3.141592653589793 * x)) - log_gamma(1 - x)
  split("0.99999999999980993 676.5203681218851 -1259.1392167224028 771.32342877765313 " \
        "-176.61502916214059 12.507343278686905 -0.13857109526572012 " \
        "9.9843695780195716e-6 1.5056327351493116e-7", c, " ")
  x -= 1
  sum = c[1]
  for (i = 1; i < 9; i++) sum += c[i + 1] / (x + i)
  t = x + 7.5
  return 0.5 * log(2 * 3.141592653589793) + (x + 0.5) * log(t) - t + log(sum)
}

# The continued fraction of the incomplete beta function (modified Lentz).
function beta_fraction(a, b, x,   m, m2, aa, c, d, h, del, tiny) {
  tiny = 1e-300
  c = 1; d = 1 - (a + b) * x / (a + 1)
  if (d < tiny && d > -tiny) d = tiny
  d = 1 / d; h = d
  for (m = 1; m <= 300; m++) {
    m2 = 2 * m
    aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
    d = 1 + aa * d; if (d < tiny && d > -tiny) d = tiny
    c = 1 + aa / c; if (c < tiny && c > -tiny) c = tiny
    d = 1 / d; h *= d * c
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
    d = 1 + aa * d; if (d < tiny && d > -tiny) d = tiny
    c = 1 + aa / c; if (c < tiny && c > -tiny) c = tiny
    d = 1 / d; del = d * c; h *= del
    if (del - 1 < 1e-15 && del - 1 > -1e-15) break
  }
  return h
}

# The regularised incomplete beta function I_x(a, b).
function incomplete_beta(a, b, x,   front) {
  if (x <= 0) return 0
  if (x >= 1) return 1
  front = exp(log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * log(x) + b * log(1 - x))
  if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a
  return 1 - front * beta_fraction(b, a, 1 - x) / b
}

# Two-sided p-value of Student's t with df degrees of freedom.
function t_test_p(t, df) { return incomplete_beta(df / 2, 0.5, df / (df + t * t)) }

function mean_of(list, n,   i, s) { s = 0; for (i = 1; i <= n; i++) s += list[i]; return s / n }
function std_of(list, n,   i, m, s) {
  if (n < 2) return -1
  m = mean_of(list, n); s = 0
  for (i = 1; i <= n; i++) s += (list[i] - m) ^ 2
  return sqrt(s / (n - 1))
}

function empty_cells(n,   s) { s = ""; while (n-- > 0) s = s " |"; return s }

function show(x, percent) { return percent ? sprintf("%.2f%%", 100 * x) : sprintf("%.4f", x) }
function show_spread(m, s, percent) {
  if (s < 0) return show(m, percent)
  return show(m, percent) " ± " (percent ? sprintf("%.2f", 100 * s) : sprintf("%.4f", s))
}

{
  key = $1 SUBSEP $2 SUBSEP $3
  value[key] = $4; wall[key] = $5
  if (!((($1, $3) in seen_seed))) { seen_seed[$1, $3] = 1; seeds[$1] = seeds[$1] " " $3 }
}

END {
  parse_map(names, label); parse_map(metrics, metric); parse_map(missing, why)
  n_order = split(order, trainers, " ")
  for (r = 1; r <= n_order; r++) {
    tr = trainers[r]
    name = (tr in label) ? label[tr] : tr
    split(metric[tr], spec, ":")
    metric_name = spec[1]; lower = spec[2] != "higher"; percent = spec[3] == "percent"
    if (tr in why) {
      printf "| %s | %s | not run: %s |%s\n", name, metric_name, why[tr], empty_cells(7)
      continue
    }
    ns = 0; nl = 0; np = 0; ws = 0; wl = 0
    split("", s_list); split("", l_list); split("", d_list)
    n_seeds = split(seeds[tr], seed_list, " ")
    for (i = 1; i <= n_seeds; i++) {
      sd = seed_list[i]
      hs = ((tr, "softmax", sd) in value); hl = ((tr, "laser", sd) in value)
      if (hs) { s_list[++ns] = value[tr, "softmax", sd]; ws += wall[tr, "softmax", sd] }
      if (hl) { l_list[++nl] = value[tr, "laser", sd]; wl += wall[tr, "laser", sd] }
      if (hs && hl) d_list[++np] = value[tr, "laser", sd] - value[tr, "softmax", sd]
    }
    if (ns == 0 && nl == 0) {
      printf "| %s | %s | not run: no finished run |%s\n", name, metric_name, empty_cells(7)
      continue
    }
    soft = ns ? show_spread(mean_of(s_list, ns), std_of(s_list, ns), percent) : "-"
    las = nl ? show_spread(mean_of(l_list, nl), std_of(l_list, nl), percent) : "-"
    diff = "-"; t_text = "-"; p_text = "-"; verdict = ""
    if (np > 0) {
      md = mean_of(d_list, np); sdd = std_of(d_list, np)
      diff = (md >= 0 ? "+" : "−") show_spread(md < 0 ? -md : md, sdd, percent)
      better = lower ? md < 0 : md > 0
      if (np >= 2 && sdd > 0) {
        t = md / (sdd / sqrt(np))
        p = t_test_p(t, np - 1)
        t_text = sprintf("%.2f (%d)", t, np - 1)
        p_text = sprintf("%.3f", p)
        verdict = p < 0.05 ? (better ? "LASER better" : "softmax better") : "no significant difference"
      } else if (np >= 2) {
        verdict = md == 0 ? "identical" : (better ? "LASER better in every pair" : "softmax better in every pair")
      } else {
        verdict = "one pair: no test"
      }
    }
    printf "| %s | %s (%s is better) | %s | %s | %s | %s | %s | %d + %d | %.0f s / %.0f s | %s |\n", name,
           metric_name, lower ? "lower" : "higher", soft, las, diff, t_text, p_text, ns, nl,
           ns ? ws / ns : 0, nl ? wl / nl : 0, verdict
  }
}
