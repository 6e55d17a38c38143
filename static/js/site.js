// Behaviour that pages declare in their markup, so that no page needs inline handlers
// (the content security policy allows only our own scripts). A select never submits its
// form on change (WCAG 3.2.2): each has a button.
