// The plotting libraries behind one module, so that scripts/bundle.mjs can put them in a bundle of
// their own (lib/vega.cjs): only `phiforge report` loads them, and every other command starts
// without reading or compiling their 1.8 MB.
export * as vega from 'vega';
export * as vegaLite from 'vega-lite';
