import { byId, h } from './dom.ts';

/** The image jobs take: what was dropped, chosen, or taken from a result. */
export interface InputImage {
  blob: Blob;
  /** Where it came from, for captions: a file name or `job_...`. */
  label: string;
  /** An object URL of the blob, for previews. */
  previewUrl: string;
}

let current: InputImage | undefined;
const listeners: ((image: InputImage) => void)[] = [];

export const currentImage = (): InputImage | undefined => current;

/** Calls `listener` whenever the input image changes. */
export function onImageChange(listener: (image: InputImage) => void): void {
  listeners.push(listener);
}

const ACCEPTED = /^image\/(png|jpeg|webp)$/;

/** Makes `blob` the input image, previewed in the drop zone. */
export function setInputImage(blob: Blob, label: string): void {
  if (current) URL.revokeObjectURL(current.previewUrl);
  current = { blob, label, previewUrl: URL.createObjectURL(blob) };
  const zoneText = byId('drop-zone-text', HTMLSpanElement);
  zoneText.replaceChildren(
    h('img', {
      src: current.previewUrl,
      alt: `Input image: ${label}`,
      class: 'pixelated',
      width: 64,
      height: 64,
      'data-testid': 'input-preview',
    }),
    ` ${label} (drop or choose another to replace it)`,
  );
  for (const listener of listeners) listener(current);
}

/** Wires the file input and drag-and-drop onto the drop zone; `onReject` hears of a file of another type. */
export function setUpImageInput(onReject: (message: string) => void): void {
  const zone = byId('drop-zone', HTMLLabelElement);
  const fileInput = byId('image-file', HTMLInputElement);
  const take = (file: File | undefined) => {
    if (!file) return;
    if (!ACCEPTED.test(file.type))
      return onReject(`${file.name} is ${file.type || 'of an unknown type'}; use PNG, JPEG or WebP`);
    setInputImage(file, file.name);
  };
  fileInput.addEventListener('change', () => take(fileInput.files?.[0]));
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    take(event.dataTransfer?.files[0]);
  });
}
