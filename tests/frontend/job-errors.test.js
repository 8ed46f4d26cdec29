// Why a job failed, in the student's language: the text for its error_code, never the server's English sentence
// in German (issue 14).
import { test } from "node:test";
import assert from "node:assert/strict";
import { jobErrorText, LANGUAGES } from "../../frontend/src/i18n/index.js";
import { studentState } from "../../frontend/src/classroom.js";

const LOST = "The worker running this job stopped unexpectedly. Please start it again.";

test("a failed job's code is shown in our words, in German and in English", () => {
  const job = { status: "failed", error: LOST, error_code: "job_worker_lost", error_params: null };
  assert.equal(jobErrorText(job, "de"), LANGUAGES.de["error.job_worker_lost"]);
  assert.equal(jobErrorText(job, "en"), LANGUAGES.en["error.job_worker_lost"]);
  assert.doesNotMatch(jobErrorText(job, "de"), /worker|stopped/i);
});

test("a memory limit fills in its megabytes in the language's number format", () => {
  const job = { error: "This network needs more memory than the training limit of 3,072 MB allows. ...",
    error_code: "training_memory_limit", error_params: { limit_mb: 3072 } };
  assert.match(jobErrorText(job, "en"), /limit of 3,072 MB/);
  assert.match(jobErrorText(job, "de"), /Grenze von 3\.072 MB/);
  // Without its number: the general text, no placeholder left.
  assert.doesNotMatch(jobErrorText({ ...job, error_params: null }, "de"), /\{\w+\}/);
});

test("a domain error raised in a job reads like the same error from a request", () => {
  const job = { error: "The dataset is too small to train on: only 1 symbol has samples", error_code: "dataset_too_small" };
  assert.equal(jobErrorText(job, "de"), LANGUAGES.de["error.dataset_too_small"]);
});

test("without a code: the server's sentence in English, never an English sentence in German", () => {
  const old = { error: "Some sentence from an older server." };
  assert.equal(jobErrorText(old, "en"), old.error);
  assert.equal(jobErrorText(old, "de"), LANGUAGES.de["error.unknown"]);
  assert.equal(jobErrorText({ error: null, error_code: null }, "de"), "");
  assert.equal(jobErrorText(null, "en"), "");
});

test("a roster student whose training failed says why, in the page's language", () => {
  const student = { working: false, best_test_accuracy: null,
    stuck: { code: "failed_training", sentence: "The latest training failed: ...", error_code: "job_interrupted", error_params: null } };
  const state = studentState(/** @type {any} */ (student), "de");
  assert.equal(state.kind, "failed");
  assert.deepEqual(state.reason, { key: "roster.failedBecause", params: { reason: LANGUAGES.de["error.job_interrupted"] } });
  assert.equal(studentState(/** @type {any} */ ({ ...student, stuck: { code: "no_scans", sentence: "" } }), "de").reason, undefined);
});
