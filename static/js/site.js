// Behaviour that pages declare in their markup, so that no page needs inline handlers
// (the content security policy allows only our own scripts). A select never submits its
// form on change (WCAG 3.2.2): each has a button.
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
