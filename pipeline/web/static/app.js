// Minifig Stonks dashboard: confirmations and an optional auto-refresh. No framework, no network.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset && form.dataset.confirm;
  if (!question) return;
  if (!window.confirm(question)) {
    event.preventDefault();
    return;
  }
  const field = form.querySelector("input[name=confirm]");
  if (field) field.value = "yes";  // without this script the server asks on its own page
});

document.querySelectorAll("input[data-autorefresh]").forEach((box) => {
  const key = "autorefresh:" + location.pathname;
  box.checked = localStorage.getItem(key) === "1";
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    if (box.checked) timer = setTimeout(() => location.reload(), Number(box.dataset.autorefresh) * 1000);
  };
  box.addEventListener("change", () => {
    localStorage.setItem(key, box.checked ? "1" : "0");
    arm();
  });
  arm();
});
