from . import portal
from . import api_v1
from . import cancellation
from . import portal_self_service
from . import signup
from . import payment_form
from . import api_portal_session
from . import sdk_files
