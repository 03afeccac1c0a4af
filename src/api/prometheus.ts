/**
 * The Prometheus text exposition format (version 0.0.4): each metric family
 * is `# HELP`, `# TYPE`, then one `name{label="value",...} number` line per
 * series; a histogram's series are `_bucket{le=...}` (cumulative, ending at
 * `+Inf`), `_sum` and `_count`.
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;
export type MetricType = "counter" | "gauge" | "histogram";

/** Label values escape backslash, double quote and line feed; HELP text escapes backslash and line feed. */
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "" : `{${entries.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",")}}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

export interface HistogramSeries {
  labels: Labels;
  /** Upper bounds, ascending, in the metric's unit. */
  bounds: readonly number[];
  /** Observations at or below each bound. */
  cumulative: readonly number[];
  count: number;
  sum: number;
}

export class PrometheusText {
  private readonly lines: string[] = [];

  private family(name: string, type: MetricType, help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  /** A counter or gauge family with its series (a family with no series is still declared). */
  metric(name: string, type: "counter" | "gauge", help: string, series: readonly { labels?: Labels; value: number }[]): this {
    this.family(name, type, help);
    for (const { labels = {}, value } of series) this.lines.push(`${name}${labelText(labels)} ${numberText(value)}`);
    return this;
  }

  histogram(name: string, help: string, series: readonly HistogramSeries[]): this {
    this.family(name, "histogram", help);
    for (const s of series) {
      s.bounds.forEach((bound, i) => this.lines.push(`${name}_bucket${labelText({ ...s.labels, le: numberText(bound) })} ${s.cumulative[i]}`));
      this.lines.push(`${name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      this.lines.push(`${name}_sum${labelText(s.labels)} ${numberText(s.sum)}`);
      this.lines.push(`${name}_count${labelText(s.labels)} ${s.count}`);
    }
    return this;
  }

  toString(): string {
    return this.lines.join("\n") + "\n";
  }
}
