// The dashboard page: sign-in with a reader key (kept in sessionStorage for
// this tab only), then the live table, charts, alerts and status line fed by
// a Session. The node serving the page is the node it talks to.
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { AlertList } from './alerts.js';
import { RateChart, RecordChart } from './charts.js';
import { Session } from './session.js';
import { RecordTable } from './table.js';

const tokenKey = 'stockgrid.token';
const byId = (id) => document.getElementById(id);

const page = {
  signin: byId('signin'),
  signinError: byId('signin-error'),
  token: byId('token'),
  dashboard: byId('dashboard'),
  signout: byId('signout'),
  filter: byId('filter'),
  warehouse: byId('filter-warehouse'),
  skuPrefix: byId('filter-sku'),
  status: byId('status'),
  state: byId('conn-state'),
  detail: byId('conn-detail'),
  rate: byId('events-rate'),
  sub: byId('sub-id'),
};

let session = null;
let views = null;
let ticker = null;

function createViews() {
  const recordChart = new RecordChart(byId('record-chart'), byId('record-chart-title'));
  const table = new RecordTable({
    body: byId('records-body'),
    note: byId('records-note'),
    onSelect: (key) => {
      table.select(key);
      recordChart.select(key, session?.store.records.get(key));
    },
  });
  return {
    table,
    recordChart,
    rateChart: new RateChart(byId('rate-chart')),
    alerts: new AlertList(byId('alerts'), byId('alerts-empty')),
  };
}

// What the session draws on.
const view = {
  status({ state, detail, mode, sub, truncated }) {
    page.status.dataset.state = state;
    page.state.textContent = state;
    const notes = [];
    if (mode === 'poll') notes.push('polling: this server has no subscriptions');
    if (truncated) notes.push('too many records: narrow the filter');
    if (detail) notes.push(detail);
    page.detail.textContent = notes.join('; ');
    page.sub.textContent = sub ?? '—';
  },
  rebuilt(store) {
    views.table.rebuild(store);
    const key = views.recordChart.key;
    if (key !== null) views.recordChart.add(store.records.get(key)?.available);
  },
  changed(change, event) {
    if (!event || event.event === 'stock') views.rateChart.count();
    views.table.update(change.key, change.record);
    if (change.key === views.recordChart.key) views.recordChart.add(change.record.available);
  },
  alert(event) {
    views.alerts.add(event);
  },
  signedOut(message) {
    signOut(message);
  },
};

function signIn(token) {
  sessionStorage.setItem(tokenKey, token);
  page.signin.hidden = true;
  page.dashboard.hidden = false;
  if (!views) views = createViews();
  views.rateChart.resize();
  views.recordChart.resize();
  session = new Session({ location: window.location, token, view });
  session.setFilter({ warehouse: page.warehouse.value, skuPrefix: page.skuPrefix.value });
  views.table.setFilter(session.filter);
  session.start();
  ticker = setInterval(() => {
    page.rate.textContent = String(views.rateChart.tick());
    const key = views.recordChart.key;
    if (key !== null) views.recordChart.add(session.store.records.get(key)?.available);
  }, 1000);
}

function signOut(message = '') {
  sessionStorage.removeItem(tokenKey);
  session?.stop();
  session = null;
  clearInterval(ticker);
  views?.alerts.clear();
  views?.table.rebuild(null);
  views?.recordChart.select(null);
  page.dashboard.hidden = true;
  page.signin.hidden = false;
  page.signinError.textContent = message;
  page.signinError.hidden = !message;
  page.token.value = '';
  page.token.focus();
}

page.signin.addEventListener('submit', (submit) => {
  submit.preventDefault();
  const token = page.token.value.trim();
  if (token) signIn(token);
});
page.signout.addEventListener('click', () => signOut());
page.filter.addEventListener('submit', (submit) => {
  submit.preventDefault();
  const filter = { warehouse: page.warehouse.value, skuPrefix: page.skuPrefix.value };
  session?.setFilter(filter);
  views.table.setFilter(session?.filter ?? filter);
});
window.addEventListener('resize', () => {
  views?.rateChart.resize();
  views?.recordChart.resize();
});

const saved = sessionStorage.getItem(tokenKey);
if (saved) signIn(saved);
else signOut();
