// The price chart: candles with the mid-price line over them, the volume histogram in a pane below, drawn by lightweight-charts.
//
// Candles are states applied by time (README, Candles): a frame for the newest bucket updates the
// last bar, one for an earlier bucket (a late trade) is a historical update, and anything the
// series cannot take in place is redrawn from the whole list the SDK keeps.

import {
  type CandlestickData, type HistogramData, type IChartApi, type ISeriesApi, type LineData, type UTCTimestamp,
  CandlestickSeries, ColorType, HistogramSeries, LineSeries, createChart,
} from 'lightweight-charts';
import type { Candle } from '../../client/src/index.js';

/** Fewer candles than this are fitted to the chart's width when drawn afresh. */
const FIT_BELOW = 120;
const UP = '#26a69a';
const DOWN = '#ef5350';
const UP_VOLUME = 'rgba(38, 166, 154, 0.5)';
const DOWN_VOLUME = 'rgba(239, 83, 80, 0.5)';

/** A candle's bucket start in the chart's unit: seconds since the epoch. */
export const chartTime = (iso: string): UTCTimestamp => (Date.parse(iso) / 1000) as UTCTimestamp;

const bar = (c: Candle): CandlestickData => ({ time: chartTime(c.time), open: c.open, high: c.high, low: c.low, close: c.close });
const volume = (c: Candle): HistogramData => ({ time: chartTime(c.time), value: c.volume, color: c.close >= c.open ? UP_VOLUME : DOWN_VOLUME });

const two = (n: number) => String(n).padStart(2, '0');
/** Chart times are UTC seconds; the trader reads local time. */
function localTime(t: number, seconds: boolean): string {
  const d = new Date(t * 1000);
  return `${two(d.getHours())}:${two(d.getMinutes())}${seconds ? `:${two(d.getSeconds())}` : ''}`;
}

export class PriceChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volumes: ISeriesApi<'Histogram'>;
  private readonly mid: ISeriesApi<'Line'>;
  private lastMidTime = 0;
  private lastCandleTime = 0;

  constructor(container: HTMLElement) {
    this.chart = createChart(container, {
      autoSize: true,
      // The attribution is a link of the page's own (#attribution): the built-in logo injects an
      // inline <style>, which the page's Content-Security-Policy refuses.
      layout: {
        background: { type: ColorType.Solid, color: '#0f1419' }, textColor: '#aab2bf', attributionLogo: false,
        panes: { separatorColor: '#262f3b' },
      },
      grid: { vertLines: { color: '#1c232d' }, horzLines: { color: '#1c232d' } },
      rightPriceScale: { borderColor: '#262f3b' },
      timeScale: { borderColor: '#262f3b', timeVisible: true, secondsVisible: true, rightOffset: 4, barSpacing: 8, maxBarSpacing: 24 },
      localization: { timeFormatter: (t: number) => localTime(t, true) },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    });
    this.mid = this.chart.addSeries(LineSeries, {
      color: '#f0b90b', lineWidth: 1, priceLineVisible: false, lastValueVisible: true, crosshairMarkerVisible: false, title: 'mid',
    });
    this.volumes = this.chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: false }, 1);
    this.chart.panes()[0]?.setStretchFactor(4);
    this.chart.panes()[1]?.setStretchFactor(1);
  }

  /** Prices with `decimals` digits (the symbol's tick, as its book shows it). */
  setPrecision(decimals: number): void {
    const priceFormat = { type: 'price' as const, precision: decimals, minMove: 10 ** -decimals };
    this.candles.applyOptions({ priceFormat });
    this.mid.applyOptions({ priceFormat });
  }

  setInterval(interval: string): void {
    const seconds = interval.endsWith('s');
    this.chart.applyOptions({ timeScale: { secondsVisible: seconds, tickMarkFormatter: (t: number) => localTime(t, seconds) } });
  }

  /** Replaces every candle (a snapshot, or a redraw). */
  setCandles(list: readonly Candle[]): void {
    this.candles.setData(list.map(bar));
    this.volumes.setData(list.map(volume));
    this.lastCandleTime = list.length > 0 ? chartTime(list[list.length - 1].time) : 0;
    // A short history (the server started minutes ago) is spread over the width; a long one
    // opens on its newest bars, at the default spacing.
    if (list.length < FIT_BELOW) this.chart.timeScale().fitContent();
    else this.chart.timeScale().scrollToRealTime();
  }

  /** Applies candle states in time order; false when one cannot be applied in place (the caller redraws). */
  updateCandles(list: readonly Candle[]): boolean {
    try {
      for (const c of list) {
        const t = chartTime(c.time);
        const historical = t < this.lastCandleTime;
        this.candles.update(bar(c), historical);
        this.volumes.update(volume(c), historical);
        if (!historical) this.lastCandleTime = t;
      }
      return true;
    } catch {
      return false; // an earlier bucket the series does not hold: only a redraw can insert it
    }
  }

  /** The mid price at `time` (the bucket of the candle it belongs to); one point per bucket, the latest wins. */
  setMid(time: UTCTimestamp, value: number): void {
    if (time < this.lastMidTime) return;
    this.mid.update({ time, value } satisfies LineData);
    this.lastMidTime = time;
  }

  /** The current candle's bucket start, when `ms` falls in it. */
  bucketOf(ms: number, intervalMs: number): UTCTimestamp {
    const last = this.lastCandleTime * 1000;
    if (last > 0 && ms >= last && ms < last + intervalMs) return this.lastCandleTime as UTCTimestamp;
    return (Math.floor(ms / intervalMs) * intervalMs / 1000) as UTCTimestamp;
  }

  clear(): void {
    this.candles.setData([]);
    this.volumes.setData([]);
    this.mid.setData([]);
    this.lastCandleTime = this.lastMidTime = 0;
  }

  /** The candles the chart holds, oldest first. */
  drawn(): CandlestickData[] {
    return this.candles.data() as CandlestickData[];
  }
}
