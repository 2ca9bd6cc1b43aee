// The GraphQL over HTTP spec audit of the npm package graphql-http, run against a server that is
// already up: `node audit.mjs http://127.0.0.1:8000/graphql`. Prints every result; exits 1 when
// any MUST ("error") or SHOULD ("warn") audit fails, 2 when it cannot run. MAY audits are printed.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL   (e.g. http://127.0.0.1:8000/graphql)');
  process.exit(2);
}

const started = performance.now();
const results = await auditServer({ url });
const seconds = ((performance.now() - started) / 1000).toFixed(2);

const failed = [];
const counts = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
for (const result of results) {
  const level = result.name.split(' ')[0];
  counts[level][1] += 1;
  if (result.status === 'ok') {
    counts[level][0] += 1;
    console.log(`ok    ${result.name}`);
    continue;
  }
  const label = { error: 'FAIL ', warn: 'FAIL ', notice: 'note ' }[result.status];
  console.log(`${label} ${result.name}\n        ${result.reason}`);
  if (result.status !== 'notice') failed.push(result);
}
const summary = Object.entries(counts)
  .map(([level, [ok, all]]) => `${level} ${ok}/${all}`)
  .join(', ');
console.log(`\ngraphql-http audit of ${url}: ${summary} passed in ${seconds}s`);
if (failed.length > 0) {
  console.log(`${failed.length} MUST/SHOULD audit(s) failed`);
  process.exit(1);
}
