// Globals the web app adds to the page (checked by tsc with the JavaScript's JSDoc).

/** The playground's figures, read by the browser end-to-end test and its benchmark (tests/e2e). */
export interface PlaygroundStats {
  updates: number;
  totalMs: number;
  inferMs: number;
  lastMs: number;
  predicted: string | null;
  model: string;
  /** ms from each pointer event to the painted frame that shows its result */
  latencies: number[];
  /** the same from the moment the page's handler received the event (without the browser's input queue) */
  handlerLatencies: number[];
  /** animation frames in which the pointer moved, and how many of them painted a new result */
  moveFrames: number;
  updatedFrames: number;
  /** whether the network is sure of the shown prediction (null: nothing drawn) */
  sure: boolean | null;
}

declare global {
  interface Window {
    __digitlabPlayground?: PlaygroundStats;
  }
}
