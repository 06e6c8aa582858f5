import v8 from 'node:v8';

/**
 * For every command: after each full collection the old generation may grow to 1.5 times what
 * survived before the next, instead of up to four times. A long-lived `serve` or a bulk command
 * promotes objects that outlive a few scavenges (rows and sends in flight across awaits) at about
 * a megabyte a second; with V8's default factor that garbage piled up to 160 MB on 47 MB live
 * before a collection, which put serve's peak at 309 MB during a million-message send. A full
 * collection of this heap takes tens of milliseconds, so collecting more often costs nothing seen.
 */
export function boundHeapGrowth(): void {
  v8.setFlagsFromString('--heap-growing-percent=50');
}

/**
 * For commands that stream millions of rows (imports, plans, runs): a young generation of up to 32 MB
 * per semi-space instead of 16. Their rows live for one batch, across a few awaits; in the default
 * young generation many outlive two scavenges and pile up as old garbage, which cost a plan of a
 * million leads 60 MB of peak memory and a quarter of its CPU time. V8 grows the young generation
 * on demand, so the flag still applies once the process runs.
 */
export function tuneHeapForBulkWork(): void {
  v8.setFlagsFromString('--max-semi-space-size=32');
}
