// Behaviour that pages declare in their markup, so that no page needs inline handlers
// (the content security policy allows only our own scripts). A select never submits its
// form on change (WCAG 3.2.2): each has a button.
document.addEventListener("DOMContentLoaded", () => {
  // Wide tables scroll in a box of their own at 320 px (WCAG 1.4.10) and a keyboard user
  // can scroll it: every table in the page's content sits in a focusable, named region.
  for (const table of document.querySelectorAll("main table")) {
    let box = table.parentElement;
    if (!box.classList.contains("table-scroll")) {
      box = document.createElement("div");
      box.className = "table-scroll";
      table.replaceWith(box);
      box.appendChild(table);
    }
    if (!box.hasAttribute("tabindex")) box.tabIndex = 0;
    if (!box.hasAttribute("role")) box.setAttribute("role", "region");
    if (!box.hasAttribute("aria-label")) {
      const caption = table.querySelector("caption");
      const heading = table.closest("section, .card")?.querySelector("h2");
      box.setAttribute("aria-label", (caption || heading)?.textContent.trim() || "Tabell");
    }
  }
});

document.addEventListener("DOMContentLoaded", () => {
  // The case page: the chosen rejection's text, shown before it is sent.
  const texts = document.getElementById("rejection-texts");
  const select = document.querySelector("#reject-form select[name=reply]");
  const preview = document.querySelector("#reject-preview p");
  if (!texts || !select || !preview) return;
  const byId = JSON.parse(texts.textContent);
  const show = () => { preview.textContent = byId[select.value] || preview.dataset.empty; };
  select.addEventListener("change", show);
  show();
});
