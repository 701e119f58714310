import { byId, h } from './dom.ts';

/** The prompt field a chip adds to: the one last focused, else the first one shown. */
let lastPrompt: HTMLInputElement | undefined;

const promptFields = () => [...document.querySelectorAll<HTMLInputElement>('input[data-prompt]')];
const isShown = (input: HTMLInputElement) => input.closest<HTMLElement>('[hidden]') === null;

function targetField(): HTMLInputElement | undefined {
  if (lastPrompt && isShown(lastPrompt)) return lastPrompt;
  return promptFields().find(isShown);
}

/** Adds `word` to the end of the field's prompt, unless it is its last word already. */
function appendWord(input: HTMLInputElement, word: string): void {
  const words = input.value.trim().split(/\s+/).filter(Boolean);
  if (words.at(-1) !== word) words.push(word);
  input.value = words.join(' ');
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

/** Remembers which prompt field is being written in (call once). */
export function trackPromptFocus(): void {
  for (const input of promptFields()) input.addEventListener('focus', () => (lastPrompt = input));
}

/** One chip per word of the model's vocabulary; none (and the group hidden) for a free-text model. */
export function showVocabulary(vocabulary: readonly string[] | undefined): void {
  const group = byId('vocabulary', HTMLFieldSetElement);
  const list = byId('chips', HTMLDivElement);
  list.replaceChildren(
    ...(vocabulary ?? []).map((word) => {
      const chip = h('button', { type: 'button', class: 'chip', 'data-word': word }, word);
      chip.addEventListener('click', () => {
        const input = targetField();
        if (input) appendWord(input, word);
      });
      return chip;
    }),
  );
  group.hidden = !vocabulary?.length;
}
