/** A scrape of /metrics, read back: the value of a series, and which families it declares. */
export interface Scraped {
  text: string;
  /** The value of `name` with exactly these labels (in any order); undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Families with their `# TYPE`. */
  types: Map<string, string>;
}

export function readScrape(text: string): Scraped {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (!sample) continue;
    const labels = [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${v}`).sort();
    samples.set(`${sample[1]}{${labels.join(',')}}`, Number(sample[3]));
  }
  return {
    text,
    types,
    value: (name, labels = {}) => {
      const key = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .sort();
      return samples.get(`${name}{${key.join(',')}}`);
    },
  };
}

export async function scrape(url: string): Promise<Scraped> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return readScrape(await res.text());
}
