// Behaviour that pages declare in their markup, so that no page needs inline handlers
// (the content security policy allows only our own scripts).
document.addEventListener("DOMContentLoaded", () => {
  // A select that submits its form when changed: the header's clinic, a report's filter.
  for (const element of document.querySelectorAll("[data-autosubmit]")) {
    element.addEventListener("change", () => element.form.submit());
  }
});
