#!/usr/bin/env node
// Times the original TypeScript library (npm @fullstackcraftllc/floe) on one perf chain
// of the floe reference set, as its README describes: getIVSurfaces('blackscholes',
// 'totalvariance') and calculateGammaVannaCharmExposures over every expiry, then
// analyzeHedgeFlow + computePressureCloud on the nearest expiry with its call surface
// (canonical exposures, in the order floe gives them). Date.now() is pinned to the case's
// now_ms. The chain object is built once, outside the timed region; JSON parsing is not timed.
//
// usage: node time_floe.js CHAIN.json [--warmup N] [--runs N] [--serve]
// prints one JSON line: {median_ms, min_ms, p90_ms, runs, warmup, floe_version,
// node_version, n_options, n_expirations, nearest_regime, samples_ms (sorted)}.
// With --serve it prints that line for the first batch, then answers each stdin line
// {"runs": N, "warmup": N} with {"samples_ms": [...]} (same process, so `make bench` can
// interleave small batches with hedgeflow's), until stdin closes.
'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const floe = require('@fullstackcraftllc/floe');

function parseArgs(argv) {
  const args = { file: null, warmup: 5, runs: 30, serve: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--warmup') args.warmup = parseInt(argv[++i], 10);
    else if (a === '--runs') args.runs = parseInt(argv[++i], 10);
    else if (a === '--serve') args.serve = true;
    else if (args.file === null) args.file = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (args.file === null) throw new Error('usage: node time_floe.js CHAIN.json [--warmup N] [--runs N] [--serve]');
  if (!(args.runs >= 1) || !(args.warmup >= 0)) throw new Error('--runs must be >= 1, --warmup >= 0');
  return args;
}

// The README's field mapping: the case's option fields -> floe's NormalizedOption.
function toFloeChain(c) {
  const options = c.options.map((o) => ({
    occSymbol: '',
    underlying: c.symbol || '',
    strike: o.strike,
    expiration: new Date(o.expiration_ms).toISOString(),
    expirationTimestamp: o.expiration_ms,
    optionType: o.type,
    bid: o.bid,
    bidSize: 0,
    ask: o.ask,
    askSize: 0,
    mark: o.mark,
    last: o.mark,
    volume: 0,
    openInterest: o.open_interest,
    impliedVolatility: o.iv,
    timestamp: c.now_ms,
  }));
  return {
    symbol: c.symbol || '',
    spot: c.spot,
    riskFreeRate: c.risk_free_rate,
    dividendYield: c.dividend_yield,
    options,
  };
}

function workload(chain, nowMs) {
  const surfaces = floe.getIVSurfaces('blackscholes', 'totalvariance', chain);
  const variants = floe.calculateGammaVannaCharmExposures(chain, surfaces, { asOfTimestamp: nowMs });
  let nearest = variants[0];
  for (const v of variants) if (v.expiration < nearest.expiration) nearest = v;
  const surface = surfaces.find((s) => s.expirationDate === nearest.expiration && s.putCall === 'call');
  const exposure = { spotPrice: nearest.spotPrice, expiration: nearest.expiration, ...nearest.canonical };
  const flow = floe.analyzeHedgeFlow(exposure, surface);
  const cloud = floe.computePressureCloud(flow.impulseCurve, flow.regimeParams);
  return { variants, flow, cloud };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const c = JSON.parse(fs.readFileSync(args.file, 'utf8'));
  if (c.kind !== 'chain') throw new Error(`${path.basename(args.file)}: not a chain case (kind ${c.kind})`);
  const nowMs = c.now_ms;
  Date.now = () => nowMs; // the library reads the clock; the case fixes it
  const chain = toFloeChain(c);
  let last = null;
  const batch = (runs, warmup) => {
    for (let i = 0; i < warmup; i++) last = workload(chain, nowMs);
    const out = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      last = workload(chain, nowMs);
      out.push(performance.now() - t0);
    }
    return out;
  };
  const samples = batch(args.runs, args.warmup);
  samples.sort((a, b) => a - b);
  const n = samples.length;
  const median = n % 2 ? samples[(n - 1) / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  const pkg = require('@fullstackcraftllc/floe/package.json');
  process.stdout.write(JSON.stringify({
    median_ms: median,
    min_ms: samples[0],
    p90_ms: samples[Math.floor(0.9 * (n - 1))],
    runs: n,
    warmup: args.warmup,
    floe_version: pkg.version,
    node_version: process.version,
    n_options: chain.options.length,
    n_expirations: last.variants.length,
    nearest_regime: last.flow.impulseCurve.regime,
    samples_ms: samples,
  }) + '\n');
  if (args.serve) {
    const lines = require('readline').createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const req = JSON.parse(line);
      process.stdout.write(JSON.stringify({ samples_ms: batch(req.runs, req.warmup) }) + '\n');
    });
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`time_floe: ${err && err.message ? err.message : err}\n`);
  process.exit(2);
}
