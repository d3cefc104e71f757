// lfsd web console: the only script (served by lfsd; the Content-Security-Policy allows no other).
// Asks before forms marked data-confirm are sent, and copies the new token on request.
document.addEventListener('submit', (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener('click', (event) => {
  const button = event.target;
  if (!(button instanceof HTMLButtonElement) || !button.dataset.copy) return;
  const source = document.querySelector(`[data-testid="${button.dataset.copy}"]`);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent || '').then(() => (button.textContent = 'Copied'));
  }
});
