// The theme chosen with the header's toggle (src/lib/theme.ts owns the key and the values).
try {
  var theme = localStorage.getItem("sandlot.theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
} catch (e) {
  // Storage may be off (private windows, policies): the system's theme applies.
}
