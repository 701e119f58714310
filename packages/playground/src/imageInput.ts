import { byId, h } from './dom.ts';

/** The image jobs take: what was dropped, chosen, or taken from a result. */
export interface InputImage {
  blob: Blob;
  /** Where it came from, for captions: a file name or `job_...`. */
  label: string;
  /** An object URL of the blob, for previews. */
  previewUrl: string;
}

/** One image input of the form: a drop zone with its file input. */
export interface ImageSlot {
  current(): InputImage | undefined;
  /** Makes `blob` this input's image, previewed in its drop zone. */
  set(blob: Blob, label: string): void;
}

/** The ids of a slot's elements in index.html, and the test id of its preview. */
export interface ImageSlotElements {
  zone: string;
  text: string;
  file: string;
  previewTestId: string;
}

/** The first image (every image kind's), and an interpolation's second. */
export const FIRST_IMAGE: ImageSlotElements = {
  zone: 'drop-zone',
  text: 'drop-zone-text',
  file: 'image-file',
  previewTestId: 'input-preview',
};
export const SECOND_IMAGE: ImageSlotElements = {
  zone: 'drop-zone-2',
  text: 'drop-zone-text-2',
  file: 'image-file-2',
  previewTestId: 'input-preview-2',
};

const ACCEPTED = /^image\/(png|jpeg|webp)$/;

/** Wires a slot's file input and drag-and-drop; `onReject` hears of a file of another type. */
export function setUpImageSlot(elements: ImageSlotElements, onReject: (message: string) => void): ImageSlot {
  let current: InputImage | undefined;
  const set = (blob: Blob, label: string) => {
    if (current) URL.revokeObjectURL(current.previewUrl);
    current = { blob, label, previewUrl: URL.createObjectURL(blob) };
    byId(elements.text, HTMLSpanElement).replaceChildren(
      h('img', {
        src: current.previewUrl,
        alt: `Input image: ${label}`,
        class: 'pixelated',
        width: 64,
        height: 64,
        'data-testid': elements.previewTestId,
      }),
      ` ${label} (drop or choose another to replace it)`,
    );
  };
  const zone = byId(elements.zone, HTMLLabelElement);
  const fileInput = byId(elements.file, HTMLInputElement);
  const take = (file: File | undefined) => {
    if (!file) return;
    if (!ACCEPTED.test(file.type))
      return onReject(`${file.name} is ${file.type || 'of an unknown type'}; use PNG, JPEG or WebP`);
    set(file, file.name);
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
  return { current: () => current, set };
}
