// Runes everywhere: Svelte 4's syntax is a compile error, not a second dialect.
export default {
  compilerOptions: { runes: true },
};
