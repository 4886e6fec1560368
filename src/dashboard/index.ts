export { createDashboardHandler, startDashboard, type DashboardHandler, type DashboardOptions, type RunningDashboard } from "./server.js";
export { takeSnapshot, classify, KINDS, type Kind, type PrimitiveView, type Snapshot, type SnapshotOptions } from "./snapshot.js";
