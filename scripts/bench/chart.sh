# scripts/bench/chart.sh: build/bench.svg from build/bench.json with gnuplot:
# each route's throughput against its ceilings (its own statements with
# the server's pool, one point lookup), and its latency percentiles.
# Sourced by scripts/bench.sh (not run on its own): it uses the settings and
# helpers defined there and in lib.sh.

SVG_OUT=$ROOT/build/bench.svg

chart() {
  local data=$WORK/chart.tsv
  jq -r '.routes | to_entries[] | [.key, .value.rps, .value.db_ceiling_pool_rps,
           .value.point_ceiling_pool_rps, .value.p50_ms, .value.p99_ms, .value.max_ms] | @tsv' \
    "$JSON_OUT" >"$data"
  local title
  title="ganomede-chat make bench, $(jq -r '.settings.commit' "$JSON_OUT"), $NCPU cores, ${DURATION} s per route, wrk -c$WRK_CONNS"
  gnuplot <<GP >"$LOGS/gnuplot.txt" 2>&1 || { log "gnuplot failed (see $LOGS/gnuplot.txt)"; return 0; }
set terminal svg size 1100,900 dynamic font "sans,12" background rgb "white"
set output "$SVG_OUT"
set termoption noenhanced
set datafile separator "\t"
set multiplot layout 2,1 title "$title"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -20 scale 0 font ",10"
set key below horizontal
set ylabel "requests/s (log scale)"
set logscale y
set title "Throughput against its ceilings (pgbench with the server's $BENCH_HTTP_THREADS connections)"
plot "$data" using 2:xtic(1) title "service" lc rgb "#1f77b4", \
     "" using 3 title "its statements (pgbench)" lc rgb "#ff7f0e", \
     "" using 4 title "one point lookup (pgbench -S)" lc rgb "#bbbbbb"
set title "Latency (wrk, $WRK_CONNS connections)"
set ylabel "ms (log scale)"
plot "$data" using 5:xtic(1) title "p50" lc rgb "#2ca02c", \
     "" using 6 title "p99" lc rgb "#d62728", \
     "" using 7 title "max" lc rgb "#9467bd"
unset multiplot
GP
  log "chart: $SVG_OUT"
}
