// The member directory: "Older members" becomes a "Load more" button that appends the next
// members in place. Without this file the link pages through the same members.
'use strict';

(function loadMore() {
  const list = document.getElementById('members');
  const older = document.getElementById('older-members');
  const status = document.getElementById('members-status');
  if (!list || !older || !status || !window.fetch || !window.DOMParser) {
    return;
  }

  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'load-more';
  button.textContent = 'Load more';
  let next = older.getAttribute('href');
  older.replaceWith(button);

  button.addEventListener('click', async () => {
    if (button.getAttribute('aria-busy') === 'true') {
      return;
    }
    button.setAttribute('aria-busy', 'true');
    const url = new URL(next, window.location.href);
    url.searchParams.set('fragment', '1');
    let slice;
    try {
      const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!response.ok) {
        throw new Error(`status ${response.status}`);
      }
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      slice = doc.querySelector('ol.members');
      if (!slice) {
        throw new Error('no members in the answer');
      }
    } catch {
      // The page itself says what went wrong, and keeps working without the script.
      window.location.assign(next);
      return;
    }

    const items = Array.from(slice.children);
    for (const item of items) {
      list.append(document.adoptNode(item));
    }
    // Reload and Back come back to the members just loaded.
    window.history.replaceState(window.history.state, '', next);
    const more = slice.dataset.next;
    const count = items.length;
    status.textContent = `${count} more member${count === 1 ? '' : 's'} shown.${more ? '' : ' That is everyone.'}`;
    items[0]?.querySelector('a')?.focus();
    if (more) {
      next = more;
      button.removeAttribute('aria-busy');
    } else {
      button.remove();
    }
  });
})();
