// Types of sync-chart-files.mjs for the TypeScript tests that import it (npm run typecheck).
/** [file in deploy/, its copy in helm/scimsync/files/] pairs. */
export declare const CHART_FILES: [from: string, to: string][];
