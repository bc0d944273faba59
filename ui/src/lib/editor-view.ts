// CodeMirror 6, set up for the console. Imported only by components/Editor.svelte, with a
// dynamic import(), so that it is a chunk of its own loaded when an editor first mounts.
//
// Colours are CSS variables (set in Editor.svelte with light-dark()), so the editor follows
// the page's theme, including a switch while it is open, without being reconfigured.
// CodeMirror's styles go in through style-mod, which writes a <style> element into a
// document's head (refused by the console's `style-src 'self'`) but uses a constructable
// stylesheet in a shadow root, which no CSP governs: so the editor lives in a shadow root
// of its host element. CSS variables inherit into it; the page's own rules do not, so the
// theme below says everything the editor's look needs.
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import { tags } from "@lezer/highlight";
import { basicSetup, EditorView } from "codemirror";
import type { Language } from "./editor";

export interface EditorOptions {
  value: string;
  language: Language;
  readonly: boolean;
  label: string;
  onChange: (value: string) => void;
}

export interface EditorHandle {
  setValue(value: string): void;
  setLanguage(language: Language): void;
  setReadonly(readonly: boolean): void;
  setLabel(label: string): void;
  focus(): void;
  destroy(): void;
}

const theme = EditorView.theme({
  "&": {
    color: "var(--editor-text)",
    backgroundColor: "var(--editor-bg)",
    fontSize: "14px",
    height: "100%",
  },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5", minHeight: "20rem" },
  ".cm-content": { caretColor: "var(--editor-text)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--editor-text)" },
  "&.cm-focused": { outline: "2px solid var(--focus)", outlineOffset: "-2px" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": {
    backgroundColor: "var(--editor-selection)",
  },
  ".cm-activeLine": { backgroundColor: "var(--editor-active-line)" },
  ".cm-gutters": {
    backgroundColor: "var(--editor-gutter-bg)",
    color: "var(--editor-gutter-text)",
    borderRight: "1px solid var(--border)",
  },
  ".cm-activeLineGutter": { backgroundColor: "var(--editor-active-line)" },
  ".cm-matchingBracket, &.cm-focused .cm-matchingBracket": {
    backgroundColor: "var(--editor-selection)",
    color: "inherit",
  },
  ".cm-tooltip": {
    backgroundColor: "var(--surface)",
    color: "var(--text)",
    border: "1px solid var(--border)",
  },
  ".cm-tooltip-autocomplete ul li[aria-selected]": {
    backgroundColor: "var(--editor-selection)",
    color: "var(--text)",
  },
  ".cm-panels": { backgroundColor: "var(--surface)", color: "var(--text)" },
});

const highlight = HighlightStyle.define([
  { tag: [tags.keyword, tags.controlKeyword, tags.operatorKeyword], color: "var(--code-keyword)" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--code-string)" },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: "var(--code-comment)", fontStyle: "italic" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: "var(--code-number)" },
  {
    tag: [tags.function(tags.definition(tags.variableName)), tags.definition(tags.className)],
    color: "var(--code-definition)",
  },
  { tag: [tags.propertyName], color: "var(--code-definition)" },
  { tag: tags.invalid, color: "var(--bad)" },
]);

function languageExtension(language: Language): Extension {
  if (language === "python") return python();
  if (language === "json") return json();
  return [];
}

function readonlyExtension(readonly: boolean): Extension {
  return [EditorState.readOnly.of(readonly), EditorView.editable.of(!readonly)];
}

function labelExtension(label: string): Extension {
  return EditorView.contentAttributes.of({ "aria-label": label });
}

export function createEditor(host: HTMLElement, options: EditorOptions): EditorHandle {
  const root = host.shadowRoot ?? host.attachShadow({ mode: "open" });
  const language = new Compartment();
  const readonly = new Compartment();
  const label = new Compartment();
  // Set while the value is replaced from outside, so that it is not echoed back as an edit.
  let replacing = false;
  const view = new EditorView({
    parent: root,
    root,
    state: EditorState.create({
      doc: options.value,
      extensions: [
        basicSetup,
        theme,
        syntaxHighlighting(highlight),
        language.of(languageExtension(options.language)),
        readonly.of(readonlyExtension(options.readonly)),
        label.of(labelExtension(options.label)),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !replacing) options.onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    setValue(value) {
      if (value === view.state.doc.toString()) return;
      replacing = true;
      try {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
      } finally {
        replacing = false;
      }
    },
    setLanguage(next) {
      view.dispatch({ effects: language.reconfigure(languageExtension(next)) });
    },
    setReadonly(next) {
      view.dispatch({ effects: readonly.reconfigure(readonlyExtension(next)) });
    },
    setLabel(next) {
      view.dispatch({ effects: label.reconfigure(labelExtension(next)) });
    },
    focus() {
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
}
