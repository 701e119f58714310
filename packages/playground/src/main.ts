import { createObelmClient, type Job, type ObelmClient } from '@obelm/client';
import { clearProblem, problemOf, showProblem } from './alerts.ts';
import { initialApiKey, rememberApiKey } from './apiKey.ts';
import { showVocabulary, trackPromptFocus } from './chips.ts';
import { compareSamplers } from './compare.ts';
import { apiBaseUrl, loadConfig, type PlaygroundConfig } from './config.ts';
import { byId } from './dom.ts';
import { readForm, selectedKind, setBusy, showFieldsOf } from './form.ts';
import { recentJobs, showHistory } from './history.ts';
import { FIRST_IMAGE, type ImageSlot, type InputImage, SECOND_IMAGE, setUpImageSlot } from './imageInput.ts';
import { applyModelSettings, type ModelInfo, showModels, trackTouchedNumbers } from './models.ts';
import { resetProgress, setStatus, showJobProgress } from './progress.ts';
import { imagesNeeded, jobRequest, type PlaygroundJobKind } from './request.ts';
import { type ResultActions, showResult } from './results.ts';
import { runJob, uploadOnce } from './runner.ts';

/** The page's state: the API client for the key in the field, the models, and the run in progress. */
interface Session {
  config: PlaygroundConfig;
  apiKey: string;
  client: ObelmClient;
  models: ModelInfo[];
  /** The form's image inputs: every image kind's, then an interpolation's second. */
  images: readonly [ImageSlot, ImageSlot];
  running: AbortController | undefined;
  shownJobId: string | undefined;
}

const keyField = () => byId('api-key', HTMLInputElement);

function connect(session: Session): void {
  session.apiKey = keyField().value.trim();
  session.client = createObelmClient({ baseUrl: apiBaseUrl(session.config), apiKey: session.apiKey });
}

const selectedModel = (session: Session): ModelInfo | undefined =>
  session.models.find((model) => model.id === byId('model', HTMLSelectElement).value) ?? session.models[0];

/** The model's defaults, limits and vocabulary on the form; `keepTouched`: numbers the user typed stay. */
function applyModel(session: Session, keepTouched: boolean): void {
  const model = selectedModel(session);
  if (!model) return;
  applyModelSettings(model, selectedKind(), keepTouched);
  showVocabulary(model.vocabulary);
}

async function loadModels(session: Session): Promise<void> {
  try {
    session.models = showModels(await session.client.models());
    applyModel(session, true);
  } catch (err) {
    showProblem(problemOf(err));
  }
}

async function refreshHistory(session: Session): Promise<void> {
  try {
    showHistory(
      await recentJobs(session.client),
      (id) => void showFromHistory(session, id),
      session.shownJobId,
    );
  } catch (err) {
    showProblem(problemOf(err));
  }
}

/** A job of the history list, as it is now, in the result panel. */
async function showFromHistory(session: Session, id: string): Promise<void> {
  clearProblem();
  try {
    const job = await session.client.getJob(id);
    session.shownJobId = id;
    showJobProgress(job);
    showResult(job, [], resultActions(session));
    for (const button of document.querySelectorAll<HTMLButtonElement>('#history button'))
      button.setAttribute('aria-current', String(button.dataset['jobId'] === id));
    byId('result', HTMLElement).scrollIntoView({ block: 'nearest' });
  } catch (err) {
    showProblem(problemOf(err));
  }
}

function resultActions(session: Session): ResultActions {
  return {
    useAsInput: (job, url, label) =>
      void (async () => {
        clearProblem();
        try {
          const bytes = await session.client.download(url);
          session.images[0].set(new Blob([bytes.slice()], { type: 'image/png' }), label);
          // The next job works on this image: an edit, from the prompt it was made with.
          if (selectedKind() === 'sample') {
            byId('kind', HTMLSelectElement).value = 'edit';
            onKindChange(session);
          }
          if (job.params.kind === 'sample' && !byId('source-prompt', HTMLInputElement).value)
            byId('source-prompt', HTMLInputElement).value = job.params.prompt;
          setStatus(`Input image: the output of ${label}.`);
        } catch (err) {
          showProblem(problemOf(err));
        }
      })(),
  };
}

function onKindChange(session: Session): void {
  showFieldsOf(selectedKind());
  applyModel(session, true);
}

/** Runs `work` as the page's one run in progress: the form busy, Cancel aborting it, problems shown. */
async function exclusively(session: Session, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  if (session.running) return;
  clearProblem();
  const controller = new AbortController();
  session.running = controller;
  setBusy(true);
  try {
    await work(controller.signal);
  } catch (err) {
    showProblem(
      controller.signal.aborted
        ? { code: 'canceled', message: 'Stopped; the job was asked to cancel.' }
        : problemOf(err),
    );
  } finally {
    session.running = undefined;
    setBusy(false);
    void refreshHistory(session);
  }
}

/** The images a job of `kind` needs (none, one or two), or a problem shown and undefined. */
function requireImages(session: Session, kind: PlaygroundJobKind): InputImage[] | undefined {
  const images = session.images.slice(0, imagesNeeded(kind)).map((slot) => slot.current());
  if (images.every((image) => image !== undefined)) return images;
  showProblem({
    code: 'image_required',
    message:
      images.length > 1
        ? 'Choose or drop both images first (A and B; a result can be used as A).'
        : 'Choose or drop an image first (or use a result as input).',
  });
  return undefined;
}

async function runForm(session: Session): Promise<void> {
  const form = readForm();
  if ('problem' in form) return showProblem(form.problem);
  const { values } = form;
  const images = requireImages(session, values.kind);
  if (!images) return;
  await exclusively(session, async (signal) => {
    resetProgress(
      images.length === 0
        ? 'Creating the job…'
        : images.length === 1
          ? 'Uploading the image…'
          : 'Uploading the images…',
    );
    const uploaded = await Promise.all(
      images.map((image) => uploadOnce(session.client, session.apiKey, image, signal)),
    );
    const job: Job = await runJob(session.client, jobRequest(values, uploaded), {
      signal,
      onProgress: (update) => showJobProgress(update),
    });
    session.shownJobId = job.id;
    showJobProgress(job);
    showResult(job, images, resultActions(session));
    if (job.status === 'failed' && job.error) showProblem(job.error);
  });
}

async function runCompare(session: Session): Promise<void> {
  const form = readForm();
  if ('problem' in form) return showProblem(form.problem);
  const { values } = form;
  // Each sampler's job is a reconstruct of the first image.
  const image = requireImages(session, 'reconstruct')?.[0];
  if (!image) return;
  await exclusively(session, async (signal) => {
    resetProgress('Compare: starting…');
    const jobs = await compareSamplers(session.client, session.apiKey, image, values, signal);
    setStatus(
      `Compare: ${jobs.filter((job) => job.status === 'succeeded').length} of 4 round trips done.`,
      1,
    );
  });
}

async function main(): Promise<void> {
  const config = await loadConfig();
  keyField().value = initialApiKey(config);
  const rejectImage = (message: string) => showProblem({ code: 'unsupported_image', message });
  const session: Session = {
    config,
    apiKey: '',
    client: createObelmClient({ baseUrl: apiBaseUrl(config), apiKey: '' }),
    models: [],
    images: [setUpImageSlot(FIRST_IMAGE, rejectImage), setUpImageSlot(SECOND_IMAGE, rejectImage)],
    running: undefined,
    shownJobId: undefined,
  };
  connect(session);

  trackPromptFocus();
  trackTouchedNumbers();
  showFieldsOf(selectedKind());
  keyField().addEventListener('change', () => {
    rememberApiKey(keyField().value.trim(), config);
    connect(session);
    clearProblem();
    void loadModels(session);
    void refreshHistory(session);
  });
  byId('kind', HTMLSelectElement).addEventListener('change', () => onKindChange(session));
  byId('model', HTMLSelectElement).addEventListener('change', () => applyModel(session, false));
  byId('job-form', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    void runForm(session);
  });
  byId('compare', HTMLButtonElement).addEventListener('click', () => void runCompare(session));
  byId('cancel', HTMLButtonElement).addEventListener('click', () => session.running?.abort());

  await Promise.all([loadModels(session), refreshHistory(session)]);
  document.body.dataset['ready'] = 'true';
}

void main();
