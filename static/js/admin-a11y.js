// The admin's two-box selector (filter_horizontal) labels its search icons with
// aria-label on a bare span, which a screen reader may ignore (WCAG 4.1.2): give them
// the image role that the label belongs to. Django builds the boxes on "load"; this runs
// after every "load" listener.
window.addEventListener("load", () => {
  setTimeout(() => {
    for (const icon of document.querySelectorAll(".search-label-icon[aria-label]")) {
      icon.setAttribute("role", "img");
    }
    // Django's Swedish "Välj vald mottagningar" (one form for any noun): said right.
    for (const button of document.querySelectorAll(".selector-add, .selector-remove")) {
      button.textContent = button.textContent
        .replace(/^Välj vald /, "Välj markerade ").replace(/^Ta bort markerad /, "Ta bort markerade ");
    }
  }, 0);
});
