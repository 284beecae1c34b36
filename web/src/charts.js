// The two uPlot charts: stock events per second over the last
// rateWindowSeconds, and the selected record's `available` over time. Both
// keep fixed-size windows.
import uPlot from 'uplot';
import { rateWindowSeconds, recordPointsMax } from './limits.js';

const height = 180;

function widthOf(element) {
  return Math.max(240, element.clientWidth || 480);
}

export class RateChart {
  constructor(element) {
    this.element = element;
    this.counted = 0;  // events in the current second
    const now = Math.floor(Date.now() / 1000);
    this.times = Array.from({ length: rateWindowSeconds }, (_, i) => now - rateWindowSeconds + i + 1);
    this.rates = new Array(rateWindowSeconds).fill(0);
    this.plot = new uPlot({
      width: widthOf(element),
      height,
      legend: { show: false },
      scales: { y: { range: (_, min, max) => [0, Math.max(5, max * 1.1)] } },
      series: [{}, { label: 'events/s', stroke: '#2b6cb0', fill: 'rgba(43,108,176,0.15)', width: 1.5 }],
      axes: [{}, { size: 50 }],
    }, [this.times, this.rates], element);
  }

  count(n = 1) {
    this.counted += n;
  }

  // Once a second: closes the current second; returns its count.
  tick() {
    const rate = this.counted;
    this.counted = 0;
    this.times.push(Math.floor(Date.now() / 1000));
    this.rates.push(rate);
    if (this.times.length > rateWindowSeconds) {
      this.times.shift();
      this.rates.shift();
    }
    this.plot.setData([this.times, this.rates]);
    return rate;
  }

  resize() {
    this.plot.setSize({ width: widthOf(this.element), height });
  }
}

export class RecordChart {
  constructor(element, title) {
    this.element = element;
    this.title = title;
    this.key = null;
    this.times = [];
    this.values = [];
    this.plot = new uPlot({
      width: widthOf(element),
      height,
      legend: { show: false },
      series: [{}, {
        label: 'available', stroke: '#2f855a', width: 1.5,
        paths: uPlot.paths.stepped({ align: 1 }),
      }],
      axes: [{}, { size: 50 }],
    }, [this.times, this.values], element);
  }

  // Starts a new series for `key` at its current record (may be undefined).
  select(key, record) {
    this.key = key;
    this.times = [];
    this.values = [];
    this.title.textContent = key ? `available of ${key}` : 'click a row to chart its available';
    if (record) this.add(record.available);
    else this.plot.setData([this.times, this.values]);
  }

  // A value of the selected record now (on a change, and once a second so
  // the line reaches the present).
  add(available) {
    if (this.key === null || typeof available !== 'number') return;
    this.times.push(Date.now() / 1000);
    this.values.push(available);
    if (this.times.length > recordPointsMax) {
      this.times.shift();
      this.values.shift();
    }
    this.plot.setData([this.times, this.values]);
  }

  resize() {
    this.plot.setSize({ width: widthOf(this.element), height });
  }
}
