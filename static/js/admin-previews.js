// The admin's forms show, while one types, what a person will get: the clinic's SMS name
// with its length against the limit and the longest reminder it makes; a standard reply
// as the resident will read it. The texts and limits come from the server (data-*).
document.addEventListener("DOMContentLoaded", () => {
  const typographic = (s) => s.replace(/[–—‐‑−]/g, "-").replace(/[’‘‚´`]/g, "'")
    .replace(/[“”„«»]/g, '"').replace(/[\u00a0\u2009\u202f]/g, " ").replace(/…/g, "...");

  const name = document.querySelector("input[data-sms-limit]");
  if (name) {
    const live = document.getElementById("sms-name-live");
    const longest = document.querySelector(".field-longest_sms .readonly");
    const basic = new Set(name.dataset.gsmBasic);
    const extension = new Set(name.dataset.gsmExtension);
    const limit = Number(name.dataset.smsLimit);
    const segment = Number(name.dataset.smsSegment);
    const septets = (s) => [...s].reduce((n, ch) => n + (extension.has(ch) ? 2 : 1), 0);
    const show = () => {
      const text = typographic(name.value).trim();
      const bad = [...new Set([...text].filter((ch) => !basic.has(ch) && !extension.has(ch)))];
      const used = septets(text);
      live.textContent = bad.length
        ? `Kan inte skickas i sms: ${bad.map((ch) => `”${ch}”`).join(" ")}`
        : `Nu ${used} av högst ${limit} tecken${used > limit ? " – för långt" : ""}.`;
      if (longest && text) {
        const sms = name.dataset.smsBefore + text + name.dataset.smsAfter;
        const quote = document.createElement("q");
        quote.textContent = sms;
        longest.replaceChildren(quote, document.createElement("br"),
          `${septets(sms)} av ${segment} tecken (ett sms).`);
      }
    };
    name.addEventListener("input", show);
    show();
  }

  const reply = document.querySelector("textarea[data-reply-examples]");
  const preview = document.getElementById("reply-preview");
  if (reply && preview) {
    const examples = JSON.parse(reply.dataset.replyExamples);
    const show = () => {
      let text = reply.value;
      for (const [mark, example] of Object.entries(examples)) text = text.split(mark).join(example);
      preview.textContent = text;
    };
    reply.addEventListener("input", show);
    show();
  }
});
