// Copy an annotator link to the clipboard (selecting it as a fallback where the clipboard is not allowed).
for (const button of document.querySelectorAll('button.copy')) {
  button.addEventListener('click', async () => {
    const input = button.parentElement.querySelector('input.link-url');
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = 'Copied';
    } catch {
      input.select();
      button.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2500);
  });
}
