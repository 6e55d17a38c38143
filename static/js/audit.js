// The auditor's pages (no inline handlers: the content security policy allows only our
// own scripts). "Skriv ut" prints the extract; a download link marked data-progress says
// that the file is being prepared, and how many rows it holds, until the file arrives.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.print-page").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
  document.querySelectorAll("a[data-progress]").forEach((link) => {
    link.addEventListener("click", () => {
      const status = document.getElementById(link.dataset.progress);
      if (!status) return;
      status.textContent = status.dataset.text;
      // The browser's own download bar takes over once the first rows arrive.
      window.setTimeout(() => { status.textContent = status.dataset.done; }, 8000);
    });
  });
});
