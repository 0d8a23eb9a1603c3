// Folio, on every page: small enhancements only; every page works without this file.
'use strict';

// A form that came back with errors: put the cursor in the first field at fault. The field's
// aria-describedby names its message, so a screen reader reads it out with the label.
(function focusFirstError() {
  const field = document.querySelector('main [aria-invalid="true"]');
  if (field && !document.activeElement?.matches('input, select, textarea')) {
    field.focus();
  }
})();
