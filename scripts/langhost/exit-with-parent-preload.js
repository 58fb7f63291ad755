// `node -r <this file> …`: the process exits soon after its parent is gone (see exit-with-parent.js).
'use strict';
require('./exit-with-parent').exitWithParent();
