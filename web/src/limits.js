// Every bound of the dashboard in one place: nothing it keeps grows without
// limit, however long the page stays open or however busy the tenant is.

// Records kept in memory for the current filter; a larger snapshot is cut
// (the status line says so) and the user is asked to narrow the filter.
export const recordsKeptMax = 50_000;
// Table rows in the page at once (the first ones by warehouse, then SKU).
export const rowsRenderedMax = 5_000;
// Alerts listed, newest first.
export const alertsListedMax = 200;
// Seconds of history in the events-per-second chart.
export const rateWindowSeconds = 120;
// Points of the selected record's chart (one per change, and one a second).
export const recordPointsMax = 600;
// Events held while a subscribe answer is on its way (they may overtake it).
export const pendingEventsMax = 10_000;

// Reconnect backoff: first wait, longest wait.
export const reconnectDelayFirstMs = 500;
export const reconnectDelayMaxMs = 10_000;
// A request not answered within this is failed and the connection restarted.
export const requestTimeoutMs = 15_000;

// Polling, for a server without subscriptions: how often, page size, pages.
export const pollIntervalMs = 2_000;
export const pollPageRecords = 500;
export const pollPagesMax = recordsKeptMax / pollPageRecords;

// A changed cell stays highlighted this long, then fades (CSS transition).
export const highlightMs = 1_200;
// DOM updates are batched: at most one flush per this interval.
export const renderIntervalMs = 100;
